/* be_cuda_plugin.c - opens the CUDA backend plugin (octet-cuda.so, built from
 * kernels/cuda/) with dlopen the first time a GPU is asked for, as ggml's
 * dynamic backends do. octet itself links no CUDA library: commands that
 * never touch a GPU (search, index, --version on a machine without one)
 * start without loading cudart and cuBLASLt, and the same binary runs on
 * machines that have no CUDA at all, where --backend auto falls back to the
 * CPU and --backend cuda says what is missing. */
#include <dlfcn.h>
#include <stdbool.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

#define PLUGIN_NAME "octet-cuda.so"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const be_cuda_plugin_t *g_plugin;
static errmsg_t g_err; /* why g_plugin is NULL */

/* The directory of the running executable, with a trailing '/', or "" when
 * /proc is unavailable. */
static void exe_dir(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    if (n <= 0 || (size_t)n >= size - 1) {
        buf[0] = 0;
        return;
    }
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (slash)
        slash[1] = 0;
    else
        buf[0] = 0;
}

int be_cuda_plugin_find(char *buf, size_t size, errmsg_t *err)
{
    const char *env = getenv("OCTET_CUDA_PLUGIN");
    if (env && *env) {
        snprintf(buf, size, "%s", env);
        if (access(env, R_OK) == 0)
            return 0;
        return errmsg_set(err, OCT_ENOTFOUND, "the CUDA backend plugin %.300s (OCTET_CUDA_PLUGIN) does not exist",
                          env);
    }
    char dir[PATH_MAX];
    exe_dir(dir, sizeof dir);
    snprintf(buf, size, "%s" PLUGIN_NAME, dir);
    if (access(buf, R_OK) == 0)
        return 0;
    snprintf(buf, size, "%s../lib/octet/" PLUGIN_NAME, dir);
    if (access(buf, R_OK) == 0)
        return 0;
    snprintf(buf, size, "%s" PLUGIN_NAME, dir);
    return errmsg_set(err, OCT_ENOTFOUND,
                      "this octet has no CUDA backend: %.300s is missing (build it with nvcc present, or set "
                      "OCTET_CUDA_PLUGIN)",
                      buf);
}

static void load_once(void)
{
    char path[PATH_MAX];
    if (be_cuda_plugin_find(path, sizeof path, &g_err))
        return;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        /* dlerror names the library that is missing, e.g. libcublasLt.so.13 */
        const char *why = dlerror();
        errmsg_set(&g_err, OCT_ENOTFOUND, "the CUDA backend plugin cannot be loaded (CUDA libraries missing?): %.400s",
                   why ? why : path);
        return;
    }
    const be_cuda_plugin_t *p = (const be_cuda_plugin_t *)dlsym(h, BE_CUDA_PLUGIN_SYM);
    if (!p) {
        errmsg_set(&g_err, OCT_EUNSUPPORTED, "%.400s is not an octet CUDA plugin (no %s)", path, BE_CUDA_PLUGIN_SYM);
        dlclose(h);
        return;
    }
    if (p->abi != BE_CUDA_ABI || p->ops_size != sizeof(be_ops_t) || p->errmsg_size != sizeof(errmsg_t) ||
        p->dev_info_size != sizeof(be_dev_info_t) || !p->create || !p->probe) {
        errmsg_set(&g_err, OCT_EUNSUPPORTED,
                   "%.400s was built for another octet (plugin interface %u, this octet %d): rebuild it", path,
                   p->abi, BE_CUDA_ABI);
        dlclose(h);
        return;
    }
    /* The handle stays open for the life of the process: backends made by
     * it may live until exit. */
    g_plugin = p;
}

static const be_cuda_plugin_t *plugin(errmsg_t *err)
{
    pthread_once(&g_once, load_once);
    if (!g_plugin && err)
        *err = g_err;
    return g_plugin;
}

int be_cuda_new(be_t **out, int device, errmsg_t *err)
{
    const be_cuda_plugin_t *p = plugin(err);
    return p ? p->create(out, device, err) : g_err.code;
}

/* Whether this machine exposes an NVIDIA GPU at all (the driver's control
 * node), so that a probe on a machine without one costs no library load. */
static bool nvidia_node_present(void)
{
    return access("/dev/nvidiactl", F_OK) == 0 || access("/dev/dxg", F_OK) == 0;
}

int be_cuda_probe(int device, be_dev_info_t *out, errmsg_t *err)
{
    memset(out, 0, sizeof *out);
    if (!nvidia_node_present())
        return errmsg_set(err, OCT_ENOTFOUND, "no NVIDIA GPU on this machine (no /dev/nvidiactl)");
    const be_cuda_plugin_t *p = plugin(err);
    return p ? p->probe(device, out, err) : g_err.code;
}

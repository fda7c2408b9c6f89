/* main.c - the octet entry point: dispatches subcommands, prints --help and
 * --version. With no subcommand, or with options first, octet opens the TUI. */
#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "engine.h"
#include "patch.h"
#include "tui.h"
#include "cpu/cpu_kernels.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command_t;

static const command_t COMMANDS[] = {
    {"info", cmd_info, "describe a GGUF model: hyper-parameters, tensors, memory plan"},
    {"tokenize", cmd_tokenize, "text on stdin -> token ids (or pieces)"},
    {"detokenize", cmd_detokenize, "token ids on stdin -> text"},
    {"run", cmd_run, "complete a prompt, streaming the generated text"},
    {"ppl", cmd_ppl, "perplexity of a text file"},
    {"logits", cmd_logits, "logits of the last position after a list of token ids"},
    {"bench", cmd_bench, "prefill/decode speed and memory of a model"},
    {"index", cmd_index, "index the git repository for retrieval (incremental)"},
    {"search", cmd_search, "the repository chunks most relevant to a query"},
    {"check", cmd_check, "verify code against a spec: compile, run its examples sandboxed"},
    {"gen", cmd_gen, "write the function a spec describes (with --check: verified, retried)"},
    {"apply", cmd_apply, "apply a unified diff to the working tree: checked, all files or none"},
    {"undo", cmd_undo, "restore the files the latest apply or refactor changed"},
    {"refactor", cmd_refactor, "change code as instructed: edits shown as a diff, applied on confirmation"},
    {"serve", cmd_serve, "serve the OpenAI-compatible API (chat, completions, models, metrics) over HTTP"},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void print_help(FILE *f)
{
    fprintf(f, "octet %s - a local coding assistant that knows your git repository\n\n", OCTET_VERSION);
    fprintf(f, "Usage: octet [-m FILE] [--preset NAME]   open the terminal UI (octet --tui-help)\n"
               "       octet COMMAND [OPTIONS]\n       octet --help | --version\n\nCommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-12s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\nRun 'octet COMMAND --help' for the options of a command.\n"
               "Exit status: 0 success, 1 runtime error, 2 usage error.\n");
}

static void print_version(void)
{
    printf("octet %s\n", OCTET_VERSION);
#ifdef __clang__
    printf("build: clang %s, C11", __clang_version__);
#else
    printf("build: gcc %s, C11", __VERSION__);
#endif
    printf("\n");
    printf("cpu kernels: %s (best this CPU supports; OCTET_ISA=portable|avx2|avx512vnni|amx limits it)\n",
           cpu_isa_name(cpu_isa_detect()));
    /* The GPU line loads the CUDA plugin only where an NVIDIA GPU exists. */
    char path[4096], name[64];
    uint64_t fr, tot;
    errmsg_t e;
    if (eng_cuda_plugin(path, sizeof path, &e)) {
        printf("cuda backend: none (%s); --backend auto uses the CPU\n", e.msg);
        return;
    }
    printf("cuda backend: %s (loaded only when a GPU is used)\n", path);
    if (eng_gpu_info(name, sizeof name, &fr, &tot, &e) == 0)
        printf("gpu: %s, %.1f GiB free of %.1f GiB; --backend auto uses it\n", name, fr / 1073741824.0,
               tot / 1073741824.0);
    else
        printf("gpu: none usable (%s); --backend auto uses the CPU\n", e.msg);
}

/* An apply or undo killed midway in the repository around the current
 * directory is finished or rolled back before anything else (patch.h).
 * Cheap when there is none: a walk up to the nearest .git and one stat. */
static void recover_interrupted_apply(void)
{
    char dir[PATH_MAX], probe[PATH_MAX + 64];
    struct stat st;
    if (!getcwd(dir, sizeof dir))
        return;
    for (;;) {
        snprintf(probe, sizeof probe, "%s/.git", dir);
        if (!stat(probe, &st))
            break;
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            return;
        *slash = '\0';
    }
    char gitdir[PATH_MAX * 2 + 64] = "", journal[PATH_MAX * 2 + 80];
    if (S_ISDIR(st.st_mode)) {
        snprintf(gitdir, sizeof gitdir, "%s", probe);
    } else { /* a linked worktree's .git file: "gitdir: PATH" */
        FILE *f = fopen(probe, "r");
        char line[PATH_MAX + 16] = "";
        if (!f)
            return;
        if (!fgets(line, sizeof line, f))
            line[0] = '\0';
        fclose(f);
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "gitdir: ", 8))
            return;
        if (line[8] == '/')
            snprintf(gitdir, sizeof gitdir, "%s", line + 8);
        else
            snprintf(gitdir, sizeof gitdir, "%s/%s", dir, line + 8);
    }
    snprintf(journal, sizeof journal, "%s/octet/journal", gitdir);
    if (stat(journal, &st)) {
        /* or an undo record half written or half removed (NNNNNN.tmp) */
        snprintf(journal, sizeof journal, "%s/octet/undo", gitdir);
        DIR *d = opendir(journal);
        struct dirent *e;
        bool stale = false;
        while (d && !stale && (e = readdir(d)) != NULL) {
            size_t l = strlen(e->d_name);
            stale = l > 4 && !strcmp(e->d_name + l - 4, ".tmp");
        }
        if (d)
            closedir(d);
        if (!stale)
            return;
    }
    char *notice = NULL;
    errmsg_t err = {0};
    if (patch_recover(dir, &notice, &err))
        fprintf(stderr, "octet: cannot recover an interrupted apply: %s\n", err.msg);
    else if (notice)
        fprintf(stderr, "octet: %s\n", notice);
    free(notice);
}

int main(int argc, char **argv)
{
    recover_interrupted_apply();
    /* no subcommand, or options first: the terminal UI */
    if (argc < 2 || (argv[1][0] == '-' && strcmp(argv[1], "--help") && strcmp(argv[1], "-h") &&
                     strcmp(argv[1], "--version") && strcmp(argv[1], "-V")))
        return tui_main(argc, argv);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        print_help(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        print_version();
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(cmd, COMMANDS[i].name)) {
            /* a bad settings line is said once, before the command's own output */
            cli_print_notes(cmd, config_get()->notes);
            return COMMANDS[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "octet: unknown command '%s'\nTry 'octet --help' for the list of commands.\n", cmd);
    return CLI_EXIT_USAGE;
}

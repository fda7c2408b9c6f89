/* gitlib.h - libgit2, opened with dlopen when first needed.
 *
 * octet does not link libgit2. Loading it with the libraries it brings
 * (Kerberos, mbedTLS, OpenSSL's libcrypto, libssh2: 15 of the 25 octet
 * loaded) was 2.2 of the 3.7 ms start of every command (docs/BENCHMARKS.md,
 * "Fifth pass"), and most commands never call it: a search over an
 * unchanged repository lists its files without libgit2 (walk.c, "the
 * witness"). rag/ and flows/ open it with gitlib_init, through lazylib.h
 * as serve/ opens libcurl.
 *
 * Every libgit2 function octet calls is in GITLIB_FUNCS, and a macro of the
 * function's own name (below) sends the call through the table of pointers
 * dlopen filled, so the callers read as plain libgit2 code. gitlib_init must
 * have succeeded before any of them is called, a _free of NULL included. A
 * function missing from the list fails at link time. */
#ifndef OCTET_RAG_GITLIB_H
#define OCTET_RAG_GITLIB_H

#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>

#include "errmsg.h"

/* the functions, without their git_ prefix */
#define GITLIB_FUNCS(X) \
    X(apply) X(apply_options_init) X(apply_to_tree) X(blob_create_from_buffer) X(blob_create_from_workdir) \
    X(blob_free) X(blob_lookup) X(blob_rawcontent) X(blob_rawsize) X(buf_dispose) X(commit_create) \
    X(commit_free) X(commit_id) X(commit_lookup) X(commit_parent) X(commit_parentcount) X(commit_tree) \
    X(config_free) X(config_get_path) X(diff_free) X(diff_from_buffer) X(diff_get_delta) X(diff_num_deltas) \
    X(diff_options_init) X(diff_tree_to_tree) X(error_last) X(ignore_path_is_ignored) X(index_add) \
    X(index_entrycount) X(index_free) X(index_get_byindex) X(index_get_bypath) X(index_new) X(index_read) \
    X(index_read_tree) X(index_remove) X(index_remove_bypath) X(index_write) X(index_write_tree_to) \
    X(libgit2_init) X(mempack_new) X(mempack_reset) X(object_free) X(odb_add_backend) X(odb_free) X(odb_hash) \
    X(oid_cmp) X(oid_equal) X(oid_fromstr) X(oid_fromstrn) X(oid_tostr) X(patch_free) X(patch_from_buffers) \
    X(patch_from_diff) X(patch_line_stats) X(patch_num_hunks) X(patch_to_buf) X(reference_free) \
    X(reference_name_to_id) X(reference_set_target) X(repository_config_snapshot) X(repository_free) \
    X(repository_head) X(repository_head_detached) X(repository_head_unborn) X(repository_index) \
    X(repository_is_bare) X(repository_odb) X(repository_open_ext) X(repository_path) \
    X(repository_set_head_detached) X(repository_workdir) X(revparse_single) X(signature_default) \
    X(signature_free) X(status_file) X(tree_entry_bypath) X(tree_entry_filemode) X(tree_entry_free) \
    X(tree_entry_id) X(tree_free) X(tree_id) X(tree_lookup)

#define GITLIB_FIELD(n) __typeof__(git_##n) *n;
typedef struct gitlib_fns {
    GITLIB_FUNCS(GITLIB_FIELD)
} gitlib_fns_t;
#undef GITLIB_FIELD

/* filled once by gitlib_init; read-only afterwards */
extern gitlib_fns_t gitlib_fn;

/* Open libgit2 and call git_libgit2_init, once per process (thread-safe;
 * never shut down: its global state is small). 0, or the reason it cannot
 * be loaded (OCT_ENOTFOUND, naming the library) in ERR, every time. */
int gitlib_init(errmsg_t *err);

/* Fill TABLE from the library SONAME: what gitlib_init does with libgit2's
 * own name (tests give it others). 0, or OCT_ENOTFOUND naming SONAME and
 * the loader's reason or the function it lacks. */
int gitlib_open(gitlib_fns_t *table, const char *soname, errmsg_t *err);

#define git_apply (gitlib_fn.apply)
#define git_apply_options_init (gitlib_fn.apply_options_init)
#define git_apply_to_tree (gitlib_fn.apply_to_tree)
#define git_blob_create_from_buffer (gitlib_fn.blob_create_from_buffer)
#define git_blob_create_from_workdir (gitlib_fn.blob_create_from_workdir)
#define git_blob_free (gitlib_fn.blob_free)
#define git_blob_lookup (gitlib_fn.blob_lookup)
#define git_blob_rawcontent (gitlib_fn.blob_rawcontent)
#define git_blob_rawsize (gitlib_fn.blob_rawsize)
#define git_buf_dispose (gitlib_fn.buf_dispose)
#define git_commit_create (gitlib_fn.commit_create)
#define git_commit_free (gitlib_fn.commit_free)
#define git_commit_id (gitlib_fn.commit_id)
#define git_commit_lookup (gitlib_fn.commit_lookup)
#define git_commit_parent (gitlib_fn.commit_parent)
#define git_commit_parentcount (gitlib_fn.commit_parentcount)
#define git_commit_tree (gitlib_fn.commit_tree)
#define git_config_free (gitlib_fn.config_free)
#define git_config_get_path (gitlib_fn.config_get_path)
#define git_diff_free (gitlib_fn.diff_free)
#define git_diff_from_buffer (gitlib_fn.diff_from_buffer)
#define git_diff_get_delta (gitlib_fn.diff_get_delta)
#define git_diff_num_deltas (gitlib_fn.diff_num_deltas)
#define git_diff_options_init (gitlib_fn.diff_options_init)
#define git_diff_tree_to_tree (gitlib_fn.diff_tree_to_tree)
#define git_error_last (gitlib_fn.error_last)
#define git_ignore_path_is_ignored (gitlib_fn.ignore_path_is_ignored)
#define git_index_add (gitlib_fn.index_add)
#define git_index_entrycount (gitlib_fn.index_entrycount)
#define git_index_free (gitlib_fn.index_free)
#define git_index_get_byindex (gitlib_fn.index_get_byindex)
#define git_index_get_bypath (gitlib_fn.index_get_bypath)
#define git_index_new (gitlib_fn.index_new)
#define git_index_read (gitlib_fn.index_read)
#define git_index_read_tree (gitlib_fn.index_read_tree)
#define git_index_remove (gitlib_fn.index_remove)
#define git_index_remove_bypath (gitlib_fn.index_remove_bypath)
#define git_index_write (gitlib_fn.index_write)
#define git_index_write_tree_to (gitlib_fn.index_write_tree_to)
#define git_libgit2_init (gitlib_fn.libgit2_init)
#define git_mempack_new (gitlib_fn.mempack_new)
#define git_mempack_reset (gitlib_fn.mempack_reset)
#define git_object_free (gitlib_fn.object_free)
#define git_odb_add_backend (gitlib_fn.odb_add_backend)
#define git_odb_free (gitlib_fn.odb_free)
#define git_odb_hash (gitlib_fn.odb_hash)
#define git_oid_cmp (gitlib_fn.oid_cmp)
#define git_oid_equal (gitlib_fn.oid_equal)
#define git_oid_fromstr (gitlib_fn.oid_fromstr)
#define git_oid_fromstrn (gitlib_fn.oid_fromstrn)
#define git_oid_tostr (gitlib_fn.oid_tostr)
#define git_patch_free (gitlib_fn.patch_free)
#define git_patch_from_buffers (gitlib_fn.patch_from_buffers)
#define git_patch_from_diff (gitlib_fn.patch_from_diff)
#define git_patch_line_stats (gitlib_fn.patch_line_stats)
#define git_patch_num_hunks (gitlib_fn.patch_num_hunks)
#define git_patch_to_buf (gitlib_fn.patch_to_buf)
#define git_reference_free (gitlib_fn.reference_free)
#define git_reference_name_to_id (gitlib_fn.reference_name_to_id)
#define git_reference_set_target (gitlib_fn.reference_set_target)
#define git_repository_config_snapshot (gitlib_fn.repository_config_snapshot)
#define git_repository_free (gitlib_fn.repository_free)
#define git_repository_head (gitlib_fn.repository_head)
#define git_repository_head_detached (gitlib_fn.repository_head_detached)
#define git_repository_head_unborn (gitlib_fn.repository_head_unborn)
#define git_repository_index (gitlib_fn.repository_index)
#define git_repository_is_bare (gitlib_fn.repository_is_bare)
#define git_repository_odb (gitlib_fn.repository_odb)
#define git_repository_open_ext (gitlib_fn.repository_open_ext)
#define git_repository_path (gitlib_fn.repository_path)
#define git_repository_set_head_detached (gitlib_fn.repository_set_head_detached)
#define git_repository_workdir (gitlib_fn.repository_workdir)
#define git_revparse_single (gitlib_fn.revparse_single)
#define git_signature_default (gitlib_fn.signature_default)
#define git_signature_free (gitlib_fn.signature_free)
#define git_status_file (gitlib_fn.status_file)
#define git_tree_entry_bypath (gitlib_fn.tree_entry_bypath)
#define git_tree_entry_filemode (gitlib_fn.tree_entry_filemode)
#define git_tree_entry_free (gitlib_fn.tree_entry_free)
#define git_tree_entry_id (gitlib_fn.tree_entry_id)
#define git_tree_free (gitlib_fn.tree_free)
#define git_tree_id (gitlib_fn.tree_id)
#define git_tree_lookup (gitlib_fn.tree_lookup)

#endif

/* cmd_tokenize.c - `octet tokenize` (text on stdin -> token ids or pieces)
 * and `octet detokenize` (ids on stdin -> text): the model's tokenizer from
 * the command line, to check what a prompt costs and how it is cut, and to
 * turn ids from logs back into text. `tokenize --no-bos | detokenize` gives
 * the input back byte for byte. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "preset.h"
#include "gguf.h"
#include "tokenizer.h"

static void tokenize_usage(FILE *f)
{
    fprintf(f,
            "Usage: octet tokenize [-m FILE] [--ids|--pieces] [--no-bos] [--no-eos] [--parse-special]\n"
            "Read text from stdin and print its tokens: the ids, space-separated on one line.\n\n"
            "  -m, --model FILE     the GGUF file whose tokenizer to use (a vocab-only file will do)\n"
            "      --ids            print the ids (the default)\n"
            "      --pieces         print one token per line: its id, a tab, and its text in quotes\n"
            "                       (escapes: \\n \\t \\r \\\\ \\\" and \\xNN for other bytes)\n"
            "      --no-bos         do not add the BOS token, even when the model asks for one\n"
            "      --no-eos         do not add the EOS token, even when the model asks for one\n"
            "      --parse-special  recognize control tokens written in the text (<|im_start|>, <s>...)\n"
            "  -h, --help           show this help\n");
}

static void detokenize_usage(FILE *f)
{
    fprintf(f,
            "Usage: octet detokenize [-m FILE] [--special]\n"
            "Read token ids (decimal, separated by white space) from stdin and print their text.\n\n"
            "  -m, --model FILE   the GGUF file whose tokenizer to use (a vocab-only file will do)\n"
            "      --special      show control tokens (<s>, <|im_end|>...) as their text\n"
            "  -h, --help         show this help\n");
}

/* Parse options common to both commands. Returns -1 to go on, else an exit status. */
static int parse_opts(const char *cmd, int argc, char **argv, const struct option *opts, const char **path,
                      void (*usage)(FILE *))
{
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': *path = optarg; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        case 0: break; /* a flag option: getopt_long stored it */
        case ':': return cli_usage(cmd, "option '%s' needs a value", argv[optind - 1]);
        default:
            if (optopt)
                return cli_usage(cmd, "unknown option '-%c'", optopt);
            return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    if (!*path)
        *path = preset_default_model();
    if (!*path)
        return cli_usage(cmd, "no model given and the embedded models/octet-code.gguf was not found: use -m FILE "
                              "or set OCTET_MODEL");
    return -1;
}

static int load(const char *cmd, const char *path, tok_t **t)
{
    errmsg_t err;
    gguf_t *g = NULL;
    if (gguf_open(&g, path, &err))
        return cli_fail_err(cmd, &err);
    int rc = tok_load(t, g, &err);
    gguf_close(g);
    return rc ? cli_fail_err(cmd, &err) : 0;
}

/* A piece in double quotes, readable on any terminal: printable ASCII and
 * whole UTF-8 characters as they are, everything else escaped. */
static void put_piece(const unsigned char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80                  ? 1
                     : c >= 0xc2 && c <= 0xdf ? 2
                     : c >= 0xe0 && c <= 0xef ? 3
                     : c >= 0xf0 && c <= 0xf4 ? 4
                                              : 0;
        bool whole = len > 1 && i + len <= n;
        for (size_t k = 1; whole && k < len; k++)
            whole = (s[i + k] & 0xc0) == 0x80;
        if (whole) {
            fwrite(s + i, 1, len, stdout);
            i += len;
            continue;
        }
        switch (c) {
        case '\n': fputs("\\n", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '"': fputs("\\\"", stdout); break;
        default:
            if (c >= 0x20 && c < 0x7f)
                putchar((int)c);
            else
                printf("\\x%02X", c);
        }
        i++;
    }
    putchar('"');
}

int cmd_tokenize(int argc, char **argv)
{
    static const char *CMD = "tokenize";
    int pieces = 0, no_bos = 0, no_eos = 0, parse_special = 0;
    const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"ids", no_argument, &pieces, 0},
        {"pieces", no_argument, &pieces, 1},
        {"no-bos", no_argument, &no_bos, 1},
        {"no-eos", no_argument, &no_eos, 1},
        {"parse-special", no_argument, &parse_special, 1},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    int rc = parse_opts(CMD, argc, argv, opts, &path, tokenize_usage);
    if (rc >= 0)
        return rc;

    tok_t *t = NULL;
    char *text = NULL;
    int32_t *ids = NULL;
    size_t len = 0, n = 0;
    errmsg_t err;
    if ((rc = load(CMD, path, &t)))
        goto done;
    if (cli_read_all(stdin, &text, &len, &err) ||
        tok_encode(t, text, len,
                   (no_bos ? 0 : TOK_ADD_BOS) | (no_eos ? 0 : TOK_ADD_EOS) | (parse_special ? TOK_PARSE_SPECIAL : 0),
                   &ids, &n, &err)) {
        rc = cli_fail_err(CMD, &err);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (pieces) {
            const char *p;
            size_t pl = tok_piece(t, ids[i], true, &p);
            printf("%d\t", ids[i]);
            put_piece((const unsigned char *)p, pl);
            putchar('\n');
        } else {
            printf(i ? " %d" : "%d", ids[i]);
        }
    }
    if (!pieces)
        putchar('\n');
    if (fflush(stdout) != 0)
        rc = cli_fail(CMD, "cannot write the output: %s", strerror(errno));
done:
    free(ids);
    free(text);
    tok_free(t);
    return rc;
}

int cmd_detokenize(int argc, char **argv)
{
    static const char *CMD = "detokenize";
    int special = 0;
    const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"special", no_argument, &special, 1},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    int rc = parse_opts(CMD, argc, argv, opts, &path, detokenize_usage);
    if (rc >= 0)
        return rc;

    tok_t *t = NULL;
    char *in = NULL, *out = NULL;
    int32_t *ids = NULL;
    size_t len = 0, n = 0, olen = 0;
    errmsg_t err;
    if ((rc = load(CMD, path, &t)))
        goto done;
    if (cli_read_all(stdin, &in, &len, &err)) {
        rc = cli_fail_err(CMD, &err);
        goto done;
    }
    /* At most one id per two bytes of input ("1 2 3"), plus one. */
    ids = malloc((len / 2 + 1) * sizeof *ids);
    if (!ids) {
        rc = cli_fail(CMD, "out of memory reading %zu bytes of ids", len);
        goto done;
    }
    for (char *tokp = strtok(in, " \t\r\n\v\f"); tokp; tokp = strtok(NULL, " \t\r\n\v\f")) {
        char *end;
        errno = 0;
        long v = strtol(tokp, &end, 10);
        if (*end || end == tokp) {
            rc = cli_fail(CMD, "'%.40s' is not a token id (ids are decimal numbers)", tokp);
            goto done;
        }
        if (errno || v < 0 || v >= (long)tok_n_vocab(t)) {
            rc = cli_fail(CMD, "token id %.40s (number %zu in the input) is not in the vocabulary of %s (0..%u)",
                          tokp, n + 1, path, tok_n_vocab(t) - 1);
            goto done;
        }
        ids[n++] = (int32_t)v;
    }
    if (tok_decode(t, ids, n, special, &out, &olen, &err)) {
        rc = cli_fail_err(CMD, &err);
        goto done;
    }
    if (fwrite(out, 1, olen, stdout) != olen || fflush(stdout) != 0)
        rc = cli_fail(CMD, "cannot write the output: %s", strerror(errno));
done:
    free(out);
    free(ids);
    free(in);
    tok_free(t);
    return rc;
}

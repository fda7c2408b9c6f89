/* cmd_ppl.c - `octet ppl`: perplexity of a text file, in windows of --ctx
 * tokens. Each window starts with a fresh cache (and the model's BOS token
 * when its metadata asks for one); every token of a window after the first
 * position is predicted from the logits of the position before it. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_engine.h"

#define PPL_DEFAULT_CTX 512
#define PPL_DEFAULT_BATCH 64

enum { OPT_FILE = CLI_ENG_FIRST_FREE, OPT_JSON, OPT_TOP1 };

static void usage(void)
{
    printf("Usage: octet ppl [-m FILE] --file TEXT [--ctx N] [--json] [OPTIONS]\n\n"
           "Perplexity of TEXT ('-' for stdin) under the model, in windows of --ctx tokens\n"
           "(default %d). Prints the perplexity and the number of predicted tokens, or with\n"
           "--json one line {\"ppl\": X, \"tokens\": N}.\n\n"
           "  -f, --file TEXT       the text to score\n"
           "      --json            machine-readable output\n"
           "      --top1 FILE       also write the most likely token id of every scored\n"
           "                        position to FILE, one per line (to compare backends)\n"
           "  -h, --help            show this help\n\n%s",
           PPL_DEFAULT_CTX, CLI_ENG_HELP);
}

/* The index of the largest logit (the first of equals). */
static uint32_t argmax(const float *lg, uint32_t nv)
{
    uint32_t best = 0;
    for (uint32_t j = 1; j < nv; j++)
        if (lg[j] > lg[best])
            best = j;
    return best;
}

/* -log p(target) from one position's logits, in double. */
static double nll(const float *lg, uint32_t nv, int32_t target)
{
    double mx = lg[0], sum = 0;
    for (uint32_t j = 1; j < nv; j++)
        if (lg[j] > mx)
            mx = lg[j];
    for (uint32_t j = 0; j < nv; j++)
        sum += exp((double)lg[j] - mx);
    return -((double)lg[target] - mx - log(sum));
}

static bool wants_bos(const eng_model_t *m)
{
    bool add = false;
    const tok_t *t = eng_tokenizer(m);
    if (!t || tok_bos(t) < 0)
        return false;
    if (gguf_get_bool(eng_gguf(m), "tokenizer.ggml.add_bos_token", &add, NULL) == 0)
        return add;
    return tok_kind(t) == TOK_KIND_SPM; /* SentencePiece models add it unless told otherwise */
}

int cmd_ppl(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_ENG_LONGOPTS,
        {"file", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, OPT_JSON},
        {"top1", required_argument, NULL, OPT_TOP1},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_eng_t ce;
    cli_eng_init(&ce);
    ce.opts.logits_all = true;
    ce.opts.n_batch = PPL_DEFAULT_BATCH;
    const char *file = NULL, *top1_path = NULL;
    bool json = false;
    int opt, r;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:f:h", longopts, NULL)) != -1) {
        if ((r = cli_eng_option(&ce, "ppl", opt, optarg))) {
            if (r != 1)
                return r;
            continue;
        }
        switch (opt) {
        case 'f':
            file = optarg;
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_TOP1:
            top1_path = optarg;
            break;
        case 'h':
            usage();
            return CLI_EXIT_OK;
        default:
            return cli_usage("ppl", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage("ppl", "unexpected argument '%s'", argv[optind]);
    if (!file)
        return cli_usage("ppl", "--file is required");
    if (ce.ctx_set && ce.opts.n_ctx < 2)
        return cli_usage("ppl", "--ctx must be at least 2");

    char *text = NULL;
    size_t len = 0;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    eng_model_t *m = NULL;
    eng_session_t *s = NULL;
    int32_t *win = NULL;
    FILE *top1 = NULL;
    errmsg_t err = {0};
    int rc;
    FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
    if (!f)
        return cli_fail("ppl", "%s: cannot open", file);
    rc = cli_read_all(f, &text, &len, &err);
    if (f != stdin)
        fclose(f);
    if (rc)
        return cli_fail("ppl", "%s: %s", file, err.msg);
    if (top1_path && !(top1 = fopen(top1_path, "w"))) {
        rc = cli_fail("ppl", "%s: cannot create", top1_path);
        goto done;
    }
    if ((rc = cli_eng_open("ppl", &ce, PPL_DEFAULT_CTX, &m)))
        goto done;
    const tok_t *t = eng_tokenizer(m);
    if (!t) {
        rc = cli_fail("ppl", "%s has no tokenizer", ce.model);
        goto done;
    }
    if (tok_encode(t, text, len, 0, &ids, &n_ids, &err) || eng_session_new(&s, m, &err)) {
        rc = cli_fail_err("ppl", &err);
        goto done;
    }
    uint32_t ctx = eng_n_ctx(s), nv = eng_n_vocab(m), batch = eng_model_opts(m)->n_batch;
    bool bos = wants_bos(m);
    size_t per_win = bos ? ctx - 1 : ctx; /* text tokens per window */
    win = malloc(ctx * sizeof *win);
    if (!win) {
        rc = cli_fail("ppl", "out of memory");
        goto done;
    }
    double total = 0;
    size_t scored = 0, windows = 0;
    for (size_t at = 0; at < n_ids; at += per_win) {
        size_t k = n_ids - at < per_win ? n_ids - at : per_win, w = 0;
        if (bos)
            win[w++] = tok_bos(t);
        memcpy(win + w, ids + at, k * sizeof *win);
        w += k;
        if (w < 2)
            break;
        eng_truncate(s, 0, &err);
        for (size_t b = 0; b < w; b += batch) {
            size_t nb = w - b < batch ? w - b : batch;
            if (eng_feed(s, win + b, nb, &err)) {
                rc = cli_fail_err("ppl", &err);
                goto done;
            }
            /* position b+i predicts token b+i+1 */
            for (size_t i = 0; i < nb && b + i + 1 < w; i++) {
                total += nll(eng_logits_at(s, i), nv, win[b + i + 1]);
                if (top1)
                    fprintf(top1, "%u\n", argmax(eng_logits_at(s, i), nv));
                scored++;
            }
        }
        windows++;
    }
    if (!scored) {
        rc = cli_fail("ppl", "%s: the text has fewer than 2 tokens", file);
        goto done;
    }
    if (top1) {
        int e = fclose(top1);
        top1 = NULL;
        if (e) {
            rc = cli_fail("ppl", "%s: write failed", top1_path);
            goto done;
        }
    }
    double ppl = exp(total / (double)scored);
    if (json)
        printf("{\"ppl\": %.6f, \"tokens\": %zu}\n", ppl, scored);
    else
        printf("perplexity %.4f over %zu tokens (%zu windows of up to %u tokens, weights %s, kv %s)\n", ppl,
               scored, windows, ctx, eng_wfmt_name(eng_model_opts(m)->wfmt),
               eng_kvfmt_name(eng_model_opts(m)->kvfmt));
    rc = 0;
done:
    if (top1)
        fclose(top1);
    free(win);
    eng_session_free(s);
    eng_close(m);
    free(ids);
    free(text);
    return rc;
}

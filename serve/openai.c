/* openai.c - the OpenAI API's JSON shapes for the server and the client (see openai.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "openai.h"
#include "utf8.h"

int oai_error_set(oai_error_t *e, int status, const char *type, const char *param, const char *fmt, ...)
{
    va_list ap;
    e->status = status;
    e->type = type;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return OCT_EINVAL;
}

#define BAD(param, ...) oai_error_set(e, 400, "invalid_request_error", param, __VA_ARGS__)

/* ---- request parsing ------------------------------------------------------- */

static int get_number(const cJSON *o, const char *name, double lo, double hi, bool *given, double *out,
                      oai_error_t *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    *given = false;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return BAD(name, "'%s' must be a number", name);
    if (v->valuedouble < lo || v->valuedouble > hi)
        return BAD(name, "'%s' must be in %g..%g, not %g", name, lo, hi, v->valuedouble);
    *given = true;
    *out = v->valuedouble;
    return 0;
}

static int get_int(const cJSON *o, const char *name, double lo, double hi, bool *given, double *out,
                   oai_error_t *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    *given = false;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || floor(v->valuedouble) != v->valuedouble)
        return BAD(name, "'%s' must be a whole number", name);
    if (v->valuedouble < lo || v->valuedouble > hi)
        return BAD(name, "'%s' must be in %.0f..%.0f, not %.0f", name, lo, hi, v->valuedouble);
    *given = true;
    *out = v->valuedouble;
    return 0;
}

static int get_bool(const cJSON *o, const char *name, bool *out, oai_error_t *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsBool(v))
        return BAD(name, "'%s' must be true or false", name);
    *out = cJSON_IsTrue(v);
    return 0;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* A message's content: a string, null (empty), or text parts concatenated. */
static int content_text(const cJSON *c, const char *param, char **out, oai_error_t *e)
{
    if (!c || cJSON_IsNull(c)) {
        *out = dup_n("", 0);
    } else if (cJSON_IsString(c)) {
        *out = dup_n(c->valuestring, strlen(c->valuestring));
    } else if (cJSON_IsArray(c)) {
        size_t len = 0;
        const cJSON *p;
        cJSON_ArrayForEach(p, c)
        {
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "text");
            if (!cJSON_IsObject(p) || !cJSON_IsString(type))
                return BAD(param, "each part of '%s' must be an object with a \"type\"", param);
            if (strcmp(type->valuestring, "text"))
                return BAD(param, "content parts of type \"%s\" are not supported (text only)", type->valuestring);
            if (!cJSON_IsString(text))
                return BAD(param, "a text part of '%s' needs a string \"text\"", param);
            len += strlen(text->valuestring);
        }
        char *s = malloc(len + 1);
        if (!s)
            return oai_error_set(e, 500, "server_error", "", "out of memory");
        size_t o = 0;
        cJSON_ArrayForEach(p, c)
        {
            const char *t = cJSON_GetObjectItemCaseSensitive(p, "text")->valuestring;
            size_t l = strlen(t);
            memcpy(s + o, t, l);
            o += l;
        }
        s[o] = '\0';
        *out = s;
    } else {
        return BAD(param, "'%s' must be a string, null or an array of text parts", param);
    }
    return *out ? 0 : oai_error_set(e, 500, "server_error", "", "out of memory");
}

static int parse_messages(const cJSON *root, oai_req_t *r, oai_error_t *e)
{
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!ms)
        return BAD("messages", "'messages' is required");
    if (!cJSON_IsArray(ms))
        return BAD("messages", "'messages' must be an array");
    int n = cJSON_GetArraySize(ms);
    if (n == 0)
        return BAD("messages", "'messages' must not be empty");
    r->msgs = calloc((size_t)n, sizeof *r->msgs);
    if (!r->msgs)
        return oai_error_set(e, 500, "server_error", "", "out of memory");
    const cJSON *m;
    cJSON_ArrayForEach(m, ms)
    {
        char param[64];
        size_t i = r->n_msgs;
        snprintf(param, sizeof param, "messages[%zu].role", i);
        if (!cJSON_IsObject(m))
            return BAD("messages", "messages[%zu] must be an object", i);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsString(role))
            return BAD(param, "'%s' must be a string", param);
        chat_role_t cr;
        if (!strcmp(role->valuestring, "developer"))
            cr = CHAT_ROLE_SYSTEM; /* OpenAI's newer name for system */
        else if (chat_role_parse(role->valuestring, &cr, NULL))
            return BAD(param, "'%s' must be system, user or assistant, not \"%s\"", param, role->valuestring);
        snprintf(param, sizeof param, "messages[%zu].content", i);
        char *text;
        int rc = content_text(cJSON_GetObjectItemCaseSensitive(m, "content"), param, &text, e);
        if (rc)
            return rc;
        r->msgs[i].role = cr;
        r->msgs[i].content = text;
        r->n_msgs++;
    }
    return 0;
}

static int parse_prompt(const cJSON *root, oai_req_t *r, oai_error_t *e)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "prompt");
    if (!p)
        return BAD("prompt", "'prompt' is required");
    if (cJSON_IsArray(p)) {
        if (cJSON_GetArraySize(p) != 1 || !cJSON_IsString(cJSON_GetArrayItem(p, 0)))
            return BAD("prompt", "'prompt' must be a string or an array of exactly one string");
        p = cJSON_GetArrayItem(p, 0);
    }
    if (!cJSON_IsString(p))
        return BAD("prompt", "'prompt' must be a string");
    r->prompt_len = strlen(p->valuestring);
    if (!r->prompt_len)
        return BAD("prompt", "the prompt is empty");
    r->prompt = dup_n(p->valuestring, r->prompt_len);
    return r->prompt ? 0 : oai_error_set(e, 500, "server_error", "", "out of memory");
}

static int parse_stop(const cJSON *root, oai_req_t *r, oai_error_t *e)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "stop");
    if (!s || cJSON_IsNull(s))
        return 0;
    if (cJSON_IsString(s)) {
        r->stops[0] = dup_n(s->valuestring, strlen(s->valuestring));
        if (!r->stops[0])
            return oai_error_set(e, 500, "server_error", "", "out of memory");
        r->n_stops = 1;
        return 0;
    }
    if (!cJSON_IsArray(s))
        return BAD("stop", "'stop' must be a string or an array of strings");
    if (cJSON_GetArraySize(s) > OAI_MAX_STOPS)
        return BAD("stop", "'stop' has %d strings; at most %d are allowed", cJSON_GetArraySize(s), OAI_MAX_STOPS);
    const cJSON *it;
    cJSON_ArrayForEach(it, s)
    {
        if (!cJSON_IsString(it))
            return BAD("stop", "'stop' must be a string or an array of strings");
        r->stops[r->n_stops] = dup_n(it->valuestring, strlen(it->valuestring));
        if (!r->stops[r->n_stops])
            return oai_error_set(e, 500, "server_error", "", "out of memory");
        r->n_stops++;
    }
    return 0;
}

static int parse_sampling(const cJSON *root, oai_req_t *r, oai_error_t *e)
{
    bool g;
    double v;
    int rc;
    if ((rc = get_int(root, "max_tokens", 1, 1 << 24, &g, &v, e)))
        return rc;
    if (g)
        r->max_tokens = (uint32_t)v;
    if ((rc = get_int(root, "max_completion_tokens", 1, 1 << 24, &g, &v, e)))
        return rc;
    if (g)
        r->max_tokens = (uint32_t)v;
    if ((rc = get_number(root, "temperature", 0, 100, &g, &v, e)))
        return rc;
    if (g)
        r->sp.temp = (float)v;
    if ((rc = get_number(root, "top_p", 0, 1, &g, &v, e)))
        return rc;
    if (g)
        r->sp.top_p = (float)v > 0 ? (float)v : 1e-6f; /* 0 means "only the best token" */
    if ((rc = get_int(root, "seed", -9.2e18, 9.2e18, &g, &v, e)))
        return rc;
    if (g) {
        r->seed_set = true;
        r->sp.seed = (uint64_t)(int64_t)v;
    }
    if ((rc = get_int(root, "top_k", -1, 1 << 24, &g, &v, e)))
        return rc;
    if (g)
        r->sp.top_k = v > 0 ? (int)v : 0;
    if ((rc = get_number(root, "min_p", 0, 1, &g, &v, e)))
        return rc;
    if (g)
        r->sp.min_p = (float)v;
    static const char *const rep[] = {"repeat_penalty", "repetition_penalty"};
    for (size_t i = 0; i < 2; i++) {
        if ((rc = get_number(root, rep[i], 1e-3, 100, &g, &v, e)))
            return rc;
        if (g)
            r->sp.repeat_penalty = (float)v;
    }
    if ((rc = get_int(root, "repeat_last_n", 0, 1 << 20, &g, &v, e)))
        return rc;
    if (g)
        r->sp.repeat_last_n = (int)v;
    if ((rc = get_number(root, "frequency_penalty", -2, 2, &g, &v, e)))
        return rc;
    if (g)
        r->sp.freq_penalty = (float)v;
    if ((rc = get_number(root, "presence_penalty", -2, 2, &g, &v, e)))
        return rc;
    if (g)
        r->sp.presence_penalty = (float)v;
    if ((rc = get_int(root, "n", 1, 1, &g, &v, e)))
        return rc;
    return 0;
}

/* The offset of a NUL in BODY: a raw byte, or \u0000 inside a string
 * (cJSON decodes it, and the C string after it would be silently cut), or
 * -1 when there is none. */
static long find_nul(const char *body, size_t len)
{
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        if (!body[i])
            return (long)i;
        if (!in_str) {
            in_str = body[i] == '"';
            continue;
        }
        if (body[i] == '"') {
            in_str = false;
        } else if (body[i] == '\\' && i + 1 < len) {
            if (body[i + 1] == 'u' && i + 5 < len && !memcmp(body + i + 2, "0000", 4))
                return (long)i;
            i++;
        }
    }
    return -1;
}

int oai_req_parse(oai_kind_t kind, const char *body, size_t len, const sample_params_t *sp,
                  uint32_t max_tokens, oai_req_t *out, oai_error_t *e)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    out->sp = *sp;
    out->max_tokens = max_tokens;
    const char *end = NULL;
    long nul = find_nul(body, len);
    if (nul >= 0)
        return BAD("", "the request body has a NUL character (\\u0000) at byte %ld: refused, it would cut the "
                   "text short", nul);
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, false);
    int rc;
    if (!root) {
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        return BAD("", "the request body is not valid JSON (error at byte %zu of %zu)", at, len);
    }
    if (end && (size_t)(end - body) < len) {
        /* trailing white space is fine; anything else is not JSON */
        for (const char *p = end; p < body + len; p++)
            if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
                rc = BAD("", "the request body is not valid JSON (extra text at byte %zu)", (size_t)(p - body));
                goto fail;
            }
    }
    if (!cJSON_IsObject(root)) {
        rc = BAD("", "the request body must be a JSON object");
        goto fail;
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (model && !cJSON_IsString(model) && !cJSON_IsNull(model)) {
        rc = BAD("model", "'model' must be a string");
        goto fail;
    }
    if ((rc = kind == OAI_CHAT ? parse_messages(root, out, e) : parse_prompt(root, out, e)) ||
        (rc = parse_sampling(root, out, e)) || (rc = parse_stop(root, out, e)) ||
        (rc = get_bool(root, "stream", &out->stream, e)) || (rc = get_bool(root, "ignore_eos", &out->ignore_eos, e)))
        goto fail;
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    if (so && !cJSON_IsNull(so)) {
        if (!cJSON_IsObject(so)) {
            rc = BAD("stream_options", "'stream_options' must be an object");
            goto fail;
        }
        const cJSON *iu = cJSON_GetObjectItemCaseSensitive(so, "include_usage");
        if (iu && !cJSON_IsBool(iu)) {
            rc = BAD("stream_options.include_usage", "'stream_options.include_usage' must be true or false");
            goto fail;
        }
        out->include_usage = cJSON_IsTrue(iu);
    }
    cJSON_Delete(root);
    return 0;
fail:
    cJSON_Delete(root);
    oai_req_free(out);
    out->kind = kind;
    return rc;
}

void oai_req_free(oai_req_t *r)
{
    for (size_t i = 0; i < r->n_msgs; i++)
        free((char *)r->msgs[i].content);
    free(r->msgs);
    free(r->prompt);
    for (size_t i = 0; i < r->n_stops; i++)
        free(r->stops[i]);
    memset(r, 0, sizeof *r);
}

/* ---- responses ------------------------------------------------------------ */

/* Print and free ROOT (NULL in, NULL out). */
static char *print_free(cJSON *root)
{
    char *s = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return s;
}

/* A cJSON string of N bytes of TEXT (cJSON needs NUL-terminated strings). */
static cJSON *str_n(const char *text, size_t n)
{
    char *s = dup_n(text ? text : "", text ? n : 0);
    if (!s)
        return NULL;
    cJSON *v = cJSON_CreateString(s);
    free(s);
    return v;
}

/* Add ITEM to OBJ under NAME; false (ITEM freed) when either is missing. */
static bool add(cJSON *obj, const char *name, cJSON *item)
{
    if (!obj || !item) {
        cJSON_Delete(item);
        return false;
    }
    cJSON_AddItemToObject(obj, name, item);
    return true;
}

/* add() after earlier steps: when OK is already false ITEM is only freed. */
static bool add2(bool ok, cJSON *obj, const char *name, cJSON *item)
{
    if (!ok) {
        cJSON_Delete(item);
        return false;
    }
    return add(obj, name, item);
}

char *oai_error_json(const oai_error_t *e)
{
    cJSON *root = cJSON_CreateObject(), *err = cJSON_CreateObject();
    if (!add(root, "error", err))
        goto fail;
    char clean[3 * ERRMSG_MAX];
    size_t cl;
    utf8_clean(e->msg, strlen(e->msg), true, clean, &cl);
    clean[cl] = '\0';
    if (!add(err, "message", cJSON_CreateString(clean)) ||
        !add(err, "type", cJSON_CreateString(e->type ? e->type : "invalid_request_error")) ||
        !add(err, "param", e->param[0] ? cJSON_CreateString(e->param) : cJSON_CreateNull()) ||
        !add(err, "code", cJSON_CreateNull()))
        goto fail;
    return print_free(root);
fail:
    cJSON_Delete(root);
    return NULL;
}

static cJSON *meta_object(const oai_meta_t *m, const char *object)
{
    cJSON *o = cJSON_CreateObject();
    if (!add(o, "id", cJSON_CreateString(m->id)) || !add(o, "object", cJSON_CreateString(object)) ||
        !add(o, "created", cJSON_CreateNumber((double)m->created)) ||
        !add(o, "model", cJSON_CreateString(m->model))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *usage_object(uint32_t n_prompt, uint32_t n_gen)
{
    cJSON *u = cJSON_CreateObject();
    if (!add(u, "prompt_tokens", cJSON_CreateNumber(n_prompt)) ||
        !add(u, "completion_tokens", cJSON_CreateNumber(n_gen)) ||
        !add(u, "total_tokens", cJSON_CreateNumber((double)n_prompt + n_gen))) {
        cJSON_Delete(u);
        return NULL;
    }
    return u;
}

/* The one choice of a response or chunk. */
static cJSON *choice(const oai_meta_t *m, bool chunk, bool role, const char *text, size_t len, const char *finish)
{
    cJSON *c = cJSON_CreateObject();
    bool ok = add(c, "index", cJSON_CreateNumber(0));
    if (m->kind == OAI_CHAT) {
        cJSON *msg = cJSON_CreateObject();
        ok = add2(ok, c, chunk ? "delta" : "message", msg);
        if (ok && (role || !chunk))
            ok = add(msg, "role", cJSON_CreateString("assistant"));
        if (ok && (!chunk || role || !finish))
            ok = add(msg, "content", str_n(text, len));
    } else {
        ok = add2(ok, c, "text", str_n(text, len)) && add(c, "logprobs", cJSON_CreateNull());
    }
    ok = add2(ok, c, "finish_reason", finish ? cJSON_CreateString(finish) : cJSON_CreateNull());
    if (!ok) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

char *oai_response_json(const oai_meta_t *m, const char *text, size_t len, const char *finish,
                        uint32_t n_prompt, uint32_t n_gen)
{
    cJSON *root = meta_object(m, m->kind == OAI_CHAT ? "chat.completion" : "text_completion");
    cJSON *choices = cJSON_CreateArray();
    if (!add(root, "choices", choices)) {
        cJSON_Delete(root);
        return NULL;
    }
    cJSON *c = choice(m, false, false, text, len, finish);
    if (!c || !add(root, "usage", usage_object(n_prompt, n_gen))) {
        cJSON_Delete(c);
        cJSON_Delete(root);
        return NULL;
    }
    cJSON_AddItemToArray(choices, c);
    return print_free(root);
}

char *oai_chunk_json(const oai_meta_t *m, bool role, const char *text, size_t len, const char *finish)
{
    cJSON *root = meta_object(m, m->kind == OAI_CHAT ? "chat.completion.chunk" : "text_completion");
    cJSON *choices = cJSON_CreateArray();
    if (!add(root, "choices", choices)) {
        cJSON_Delete(root);
        return NULL;
    }
    cJSON *c = choice(m, true, role, text, len, finish);
    if (!c) {
        cJSON_Delete(root);
        return NULL;
    }
    cJSON_AddItemToArray(choices, c);
    return print_free(root);
}

char *oai_usage_chunk_json(const oai_meta_t *m, uint32_t n_prompt, uint32_t n_gen)
{
    cJSON *root = meta_object(m, m->kind == OAI_CHAT ? "chat.completion.chunk" : "text_completion");
    if (!add(root, "choices", cJSON_CreateArray()) || !add(root, "usage", usage_object(n_prompt, n_gen))) {
        cJSON_Delete(root);
        return NULL;
    }
    return print_free(root);
}

char *oai_models_json(const char *model, long long created, bool chat)
{
    cJSON *root = cJSON_CreateObject(), *data = cJSON_CreateArray(), *m = cJSON_CreateObject(),
          *caps = cJSON_CreateArray();
    if (caps) {
        cJSON_AddItemToArray(caps, cJSON_CreateString("completion"));
        if (chat)
            cJSON_AddItemToArray(caps, cJSON_CreateString("chat"));
    }
    /* "capabilities" as Ollama lists them: "chat" only with a chat template,
     * so that a client knows to send a plain completion instead */
    if (!add(m, "capabilities", caps) || !add(root, "object", cJSON_CreateString("list")) ||
        !add(root, "data", data) || !add(m, "id", cJSON_CreateString(model)) ||
        !add(m, "object", cJSON_CreateString("model")) || !add(m, "created", cJSON_CreateNumber((double)created)) ||
        !add(m, "owned_by", cJSON_CreateString("octet"))) {
        cJSON_Delete(m);
        cJSON_Delete(root);
        return NULL;
    }
    cJSON_AddItemToArray(data, m);
    return print_free(root);
}

char *oai_sse_frame(const char *json)
{
    size_t n = strlen(json);
    char *s = malloc(n + 9);
    if (s) {
        memcpy(s, "data: ", 6);
        memcpy(s + 6, json, n);
        memcpy(s + 6 + n, "\n\n", 3);
    }
    return s;
}

/* ---- client side -------------------------------------------------------- */

void oai_gen_init(oai_gen_t *g)
{
    memset(g, 0, sizeof *g);
    g->max_tokens = 0;
    g->temperature = g->top_p = g->min_p = -1;
    g->seed = -1;
    g->top_k = g->repeat_last_n = -1;
    g->repeat_penalty = 0;
}

char *oai_request_json(oai_kind_t kind, const chat_msg_t *msgs, size_t n, const char *prompt,
                       const oai_gen_t *g)
{
    cJSON *root = cJSON_CreateObject();
    bool ok = root != NULL;
    if (g->model)
        ok = add2(ok, root, "model", cJSON_CreateString(g->model));
    if (kind == OAI_CHAT) {
        cJSON *arr = cJSON_CreateArray();
        ok = add2(ok, root, "messages", arr);
        for (size_t i = 0; ok && i < n; i++) {
            cJSON *m = cJSON_CreateObject();
            ok = add(m, "role", cJSON_CreateString(chat_role_name(msgs[i].role))) &&
                 add(m, "content", cJSON_CreateString(msgs[i].content ? msgs[i].content : ""));
            if (ok)
                cJSON_AddItemToArray(arr, m);
            else
                cJSON_Delete(m);
        }
    } else {
        ok = add2(ok, root, "prompt", cJSON_CreateString(prompt ? prompt : ""));
    }
    if (g->max_tokens > 0)
        ok = add2(ok, root, "max_tokens", cJSON_CreateNumber((double)g->max_tokens));
    if (g->temperature >= 0)
        ok = add2(ok, root, "temperature", cJSON_CreateNumber(g->temperature));
    if (g->top_p >= 0)
        ok = add2(ok, root, "top_p", cJSON_CreateNumber(g->top_p));
    if (g->seed >= 0)
        ok = add2(ok, root, "seed", cJSON_CreateNumber((double)g->seed));
    if (g->top_k >= 0)
        ok = add2(ok, root, "top_k", cJSON_CreateNumber(g->top_k));
    if (g->min_p >= 0)
        ok = add2(ok, root, "min_p", cJSON_CreateNumber(g->min_p));
    if (g->repeat_penalty > 0)
        ok = add2(ok, root, "repetition_penalty", cJSON_CreateNumber(g->repeat_penalty));
    if (g->repeat_last_n >= 0)
        ok = add2(ok, root, "repeat_last_n", cJSON_CreateNumber(g->repeat_last_n));
    if (g->freq_penalty != 0)
        ok = add2(ok, root, "frequency_penalty", cJSON_CreateNumber(g->freq_penalty));
    if (g->presence_penalty != 0)
        ok = add2(ok, root, "presence_penalty", cJSON_CreateNumber(g->presence_penalty));
    if (g->n_stops) {
        cJSON *arr = cJSON_CreateArray();
        ok = add2(ok, root, "stop", arr);
        for (size_t i = 0; ok && i < g->n_stops; i++) {
            cJSON *s = cJSON_CreateString(g->stops[i]);
            ok = s != NULL;
            if (ok)
                cJSON_AddItemToArray(arr, s);
        }
    }
    cJSON *so = cJSON_CreateObject();
    ok = add2(ok, so, "include_usage", cJSON_CreateTrue());
    ok = add2(ok, root, "stream_options", so);
    ok = add2(ok, root, "stream", cJSON_CreateTrue());
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return print_free(root);
}

static long num_field(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9e18 ? (long)v->valuedouble : -1;
}

int oai_delta_parse(const char *json, size_t len, oai_delta_t *out, errmsg_t *err)
{
    memset(out, 0, sizeof *out);
    out->prompt_tokens = out->completion_tokens = -1;
    cJSON *root = cJSON_ParseWithLength(json, len);
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = errmsg_set(err, OCT_EFORMAT, "the server sent a chunk that is not a JSON object: %.*s",
                        (int)(len < 80 ? len : 80), json);
        goto done;
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (e) {
        char msg[ERRMSG_MAX - 32];
        if (!oai_error_message(json, len, msg, sizeof msg))
            snprintf(msg, sizeof msg, "an error without a message");
        rc = errmsg_set(err, OCT_EIO, "the server reported: %s", msg);
        goto done;
    }
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (cJSON_IsObject(u)) {
        out->has_usage = true;
        out->prompt_tokens = num_field(u, "prompt_tokens");
        out->completion_tokens = num_field(u, "completion_tokens");
    }
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    if (choices && !cJSON_IsArray(choices)) {
        rc = errmsg_set(err, OCT_EFORMAT, "the server sent a chunk whose \"choices\" is not an array");
        goto done;
    }
    const cJSON *c = cJSON_GetArrayItem(choices, 0);
    if (!c)
        goto done;
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(c, "finish_reason");
    if (cJSON_IsString(fin))
        snprintf(out->finish, sizeof out->finish, "%s", fin->valuestring);
    const cJSON *holder = cJSON_GetObjectItemCaseSensitive(c, "delta");
    if (!holder)
        holder = cJSON_GetObjectItemCaseSensitive(c, "message");
    const cJSON *text = holder ? cJSON_GetObjectItemCaseSensitive(holder, "content")
                               : cJSON_GetObjectItemCaseSensitive(c, "text");
    if (cJSON_IsString(text) && text->valuestring[0]) {
        out->len = strlen(text->valuestring);
        if (!(out->text = dup_n(text->valuestring, out->len)))
            rc = errmsg_set(err, OCT_ENOMEM, "out of memory");
    }
done:
    cJSON_Delete(root);
    return rc;
}

void oai_delta_free(oai_delta_t *d)
{
    free(d->text);
    d->text = NULL;
    d->len = 0;
}

bool oai_error_message(const char *json, size_t len, char *buf, size_t n)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message") : e;
    bool ok = cJSON_IsString(m);
    if (ok)
        snprintf(buf, n, "%s", m->valuestring);
    cJSON_Delete(root);
    return ok;
}

/* ---- server-sent events ----------------------------------------------------- */

void oai_sse_init(oai_sse_t *s) { memset(s, 0, sizeof *s); }

void oai_sse_free(oai_sse_t *s)
{
    free(s->line);
    free(s->data);
    memset(s, 0, sizeof *s);
}

static bool grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    char *nb = realloc(*buf, c);
    if (!nb)
        return false;
    *buf = nb;
    *cap = c;
    return true;
}

/* One complete line (without its end) of the event stream. */
static int sse_line(oai_sse_t *s, oai_sse_fn fn, void *ud)
{
    const char *l = s->line ? s->line : "";
    size_t n = s->len;
    if (n == 0) { /* blank line: dispatch */
        if (!s->has_data)
            return 0;
        s->has_data = false;
        size_t dl = s->dlen;
        s->dlen = 0;
        if (!grow(&s->data, &s->dcap, dl + 1))
            return OCT_ENOMEM;
        s->data[dl] = '\0';
        return fn(ud, s->data, dl);
    }
    if (l[0] == ':')
        return 0; /* a comment (keep-alive) */
    size_t colon = 0;
    while (colon < n && l[colon] != ':')
        colon++;
    if (colon != 4 || memcmp(l, "data", 4))
        return 0; /* event:, id:, retry: are not used by this API */
    size_t v = colon < n ? colon + 1 : n;
    if (v < n && l[v] == ' ')
        v++;
    size_t add_nl = s->has_data ? 1 : 0;
    if (s->dlen + add_nl + (n - v) + 1 > OAI_SSE_MAX || !grow(&s->data, &s->dcap, s->dlen + add_nl + (n - v) + 1))
        return OCT_ENOMEM;
    if (add_nl)
        s->data[s->dlen++] = '\n';
    memcpy(s->data + s->dlen, l + v, n - v);
    s->dlen += n - v;
    s->has_data = true;
    return 0;
}

int oai_sse_push(oai_sse_t *s, const char *buf, size_t n, oai_sse_fn fn, void *ud)
{
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c == '\n' && s->skip_lf) {
            s->skip_lf = false;
            continue;
        }
        s->skip_lf = false;
        if (c == '\r' || c == '\n') {
            s->skip_lf = c == '\r';
            int rc = sse_line(s, fn, ud);
            s->len = 0;
            if (rc)
                return rc;
            continue;
        }
        if (s->len + 2 > OAI_SSE_MAX || !grow(&s->line, &s->cap, s->len + 2))
            return OCT_ENOMEM;
        s->line[s->len++] = c;
    }
    return 0;
}

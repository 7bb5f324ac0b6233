/*
 * Fast scanner of QEMU replay logs, the optional accelerator of
 * avocado_rr.replaylog (backend.py).  Pure-Python code (reader.py) gives
 * the same results; this module only runs over ordinary events and
 * stops in front of END, of anything invalid and, when rendering text,
 * of the rare events whose text the Python side writes.
 *
 * Payload layouts (K_*) and render styles (S_*) mirror formats.py and
 * backend.py.  All integers on the wire are big-endian.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum {
    K_INSN = 0, K_NONE, K_QWORD, K_DWORD, K_CHAR_WRITE, K_ARRAY,
    K_CHAR_READ, K_NET, K_INPUT, K_AUDIO_IN_D, K_AUDIO_IN_Q, K_RANDOM,
    K_ASYNC_CP, K_ASYNC_KIND, K_END, K_AUDIO_IN_N, K_INPUT_LINUX,
    K_INVALID = 255
};

/* render styles: S_PY means "let Python render this event" */
enum {
    S_PY = 0, S_INSN, S_STATIC, S_ID, S_HEX, S_SIGNED, S_CHAR_WRITE,
    S_NET, S_RANDOM
};

enum { ST_MORE = 0, ST_HANDOVER = 1, ST_FULL = 2, ST_STOPPED = 3 };

/* render() returns (ST_FULL) once this much text is ready */
#define RENDER_BATCH (1u << 20)

#define MAX_ARRAY (64u << 20)
#define MAX_AUDIO_SAMPLES (1u << 24)
#define SHORT (-1)
#define INVALID (-2)

static inline uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t be64(const uint8_t *p)
{
    return ((uint64_t)be32(p) << 32) | be32(p + 4);
}

/* linux_keys: key events hold a Linux key code (0xe0200e on) */
static Py_ssize_t input_size(const uint8_t *p, Py_ssize_t avail,
                             int linux_keys)
{
    if (avail < 4) {
        return SHORT;
    }
    switch (be32(p)) {
    case 0:                     /* key */
        if (linux_keys) {
            return 4 + 5;       /* dword key code + byte down */
        }
        if (avail < 8) {
            return SHORT;
        }
        switch (be32(p + 4)) {
        case 0:
            return 8 + 9;       /* number: qword + byte down */
        case 1:
            return 8 + 5;       /* qcode: dword + byte down */
        default:
            return INVALID;
        }
    case 1:
        return 4 + 5;           /* btn */
    case 2:
    case 3:
        return 4 + 12;          /* rel, abs */
    case 4:
        return 4 + 32;          /* mtt */
    default:
        return INVALID;
    }
}

/* Size of the payload of layout k at p (after the event byte). */
static Py_ssize_t payload_size(int k, const uint8_t *p, Py_ssize_t avail,
                               const uint8_t *akinds)
{
    Py_ssize_t size;
    uint64_t n;

    switch (k) {
    case K_INSN:
    case K_DWORD:
        size = 4;
        break;
    case K_NONE:
        size = 0;
        break;
    case K_QWORD:
    case K_CHAR_WRITE:
        size = 8;
        break;
    case K_ARRAY:
        if (avail < 4) {
            return SHORT;
        }
        n = be32(p);
        if (n > MAX_ARRAY) {
            return INVALID;
        }
        size = 4 + (Py_ssize_t)n;
        break;
    case K_CHAR_READ:
        if (avail < 5) {
            return SHORT;
        }
        n = be32(p + 1);
        if (n > MAX_ARRAY) {
            return INVALID;
        }
        size = 5 + (Py_ssize_t)n;
        break;
    case K_NET:
    case K_RANDOM:
        if (avail < 8 + (k == K_NET)) {
            return SHORT;
        }
        n = be32(p + 4 + (k == K_NET));
        if (n > MAX_ARRAY) {
            return INVALID;
        }
        size = 8 + (k == K_NET) + (Py_ssize_t)n;
        break;
    case K_INPUT:
    case K_INPUT_LINUX:
        size = input_size(p, avail, k == K_INPUT_LINUX);
        if (size < 0) {
            return size;
        }
        break;
    case K_AUDIO_IN_D:
    case K_AUDIO_IN_Q:
        if (avail < (k == K_AUDIO_IN_Q ? 16 : 8)) {
            return SHORT;
        }
        n = k == K_AUDIO_IN_Q ? be64(p) : be32(p);
        if (n > MAX_AUDIO_SAMPLES) {
            return INVALID;
        }
        size = (k == K_AUDIO_IN_Q ? 16 : 8) + 16 * (Py_ssize_t)n;
        break;
    case K_AUDIO_IN_N:          /* qword nsamples, no wpos */
        if (avail < 8) {
            return SHORT;
        }
        n = be64(p);
        if (n > MAX_AUDIO_SAMPLES) {
            return INVALID;
        }
        size = 8 + 16 * (Py_ssize_t)n;
        break;
    case K_ASYNC_CP:
    case K_ASYNC_KIND: {
        Py_ssize_t head = k == K_ASYNC_CP ? 2 : 1;
        int sub;
        if (avail < head) {
            return SHORT;
        }
        sub = akinds[p[head - 1]];
        if (sub == K_INVALID || sub == K_ASYNC_CP || sub == K_ASYNC_KIND) {
            return INVALID;
        }
        size = payload_size(sub, p + head, avail - head, akinds);
        if (size < 0) {
            return size;
        }
        size += head;
        break;
    }
    default:
        return INVALID;
    }
    return size > avail ? SHORT : size;
}

/*
 * scan(buf, pos, kinds, akinds, counts, first_index, first_value,
 *      last_value, events, icount, stop_icount, stop_index)
 * -> (pos, events, icount, char_write_bytes, status, last_id)
 */
static PyObject *scan(PyObject *self, PyObject *args)
{
    Py_buffer buf, kinds, akinds, counts, first_index, first_value,
              last_value;
    Py_ssize_t pos;
    long long events, icount, stop_icount, stop_index;
    long long cwb = 0;
    int status = ST_MORE, last_id = -1;
    PyObject *ret = NULL;

    if (!PyArg_ParseTuple(args, "y*ny*y*w*w*w*w*LLLL", &buf, &pos, &kinds,
                          &akinds, &counts, &first_index, &first_value,
                          &last_value, &events, &icount, &stop_icount,
                          &stop_index)) {
        return NULL;
    }
    if (kinds.len != 256 || akinds.len != 256 ||
        counts.len != 256 * 8 || first_index.len != 256 * 8 ||
        first_value.len != 256 * 8 || last_value.len != 256 * 8) {
        PyErr_SetString(PyExc_ValueError, "tables must have 256 entries");
        goto out;
    }

    {
        const uint8_t *b = buf.buf;
        const uint8_t *kt = kinds.buf, *at = akinds.buf;
        int64_t *cnt = counts.buf, *fi = first_index.buf;
        int64_t *fv = first_value.buf, *lv = last_value.buf;
        Py_ssize_t n = buf.len;

        Py_BEGIN_ALLOW_THREADS
        if (stop_index >= 0 && events >= stop_index) {
            status = ST_STOPPED;
        }
        while (status != ST_STOPPED && pos < n) {
            int id = b[pos];
            int k = kt[id];
            Py_ssize_t size;

            if (k == K_END || k == K_INVALID) {
                status = ST_HANDOVER;
                break;
            }
            if (k == K_INSN && pos + 5 <= n) {
                size = 4;       /* the common case, inline */
            } else {
                size = payload_size(k, b + pos + 1, n - pos - 1, at);
                if (size == SHORT) {
                    break;
                }
                if (size == INVALID) {
                    status = ST_HANDOVER;
                    break;
                }
            }
            events++;
            if (!cnt[id]) {
                fi[id] = events;
            }
            if (k == K_INSN) {
                icount += be32(b + pos + 1);
            } else if (k == K_QWORD) {
                int64_t v = (int64_t)be64(b + pos + 1);
                if (!cnt[id]) {
                    fv[id] = v;
                }
                lv[id] = v;
            } else if (k == K_CHAR_WRITE) {
                int32_t res = (int32_t)be32(b + pos + 1);
                if (res > 0) {
                    cwb += res;
                }
            }
            if (!cnt[id] && k != K_QWORD) {
                fv[id] = icount;    /* where the event first occurs */
            }
            cnt[id]++;
            last_id = id;
            pos += 1 + size;
            if ((k == K_INSN && stop_icount > 0 && icount >= stop_icount) ||
                (stop_index >= 0 && events >= stop_index)) {
                status = ST_STOPPED;
            }
        }
        Py_END_ALLOW_THREADS
    }
    ret = Py_BuildValue("(nLLLii)", pos, events, icount, cwb, status,
                        last_id);
out:
    PyBuffer_Release(&buf);
    PyBuffer_Release(&kinds);
    PyBuffer_Release(&akinds);
    PyBuffer_Release(&counts);
    PyBuffer_Release(&first_index);
    PyBuffer_Release(&first_value);
    PyBuffer_Release(&last_value);
    return ret;
}

/* ---- text rendering ---- */

typedef struct {
    char *buf;
    size_t len, cap;
} Out;

static int out_reserve(Out *o, size_t more)
{
    if (o->len + more <= o->cap) {
        return 0;
    }
    size_t cap = o->cap ? o->cap * 2 : 1 << 16;
    while (cap < o->len + more) {
        cap *= 2;
    }
    char *nb = realloc(o->buf, cap);
    if (!nb) {
        return -1;
    }
    o->buf = nb;
    o->cap = cap;
    return 0;
}

static inline void put_mem(Out *o, const char *s, size_t n)
{
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static inline void put_u64(Out *o, uint64_t v)
{
    char tmp[24];
    int i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put_mem(o, tmp + i, sizeof(tmp) - i);
}

static inline void put_i64(Out *o, int64_t v)
{
    if (v < 0) {
        o->buf[o->len++] = '-';
        put_u64(o, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(o, (uint64_t)v);
    }
}

static inline void put_hex(Out *o, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    int i = sizeof(tmp);
    do {
        tmp[--i] = digits[v & 15];
        v >>= 4;
    } while (v);
    put_mem(o, tmp + i, sizeof(tmp) - i);
}

#define PUT_LIT(o, s) put_mem((o), (s), sizeof(s) - 1)

/*
 * render(buf, pos, styles, heads, statics, events, icount)
 * -> (text, pos, events, icount, status)
 *
 * status: ST_MORE (buffer used up, or ends inside an event), ST_FULL
 * (RENDER_BATCH bytes of text ready, call again from pos), ST_HANDOVER
 * (the event at pos is for Python).
 *
 * heads[id] is b"NAME(id)", statics[id] the constant payload text of
 * S_STATIC events (with its leading space, or b"").
 */
static PyObject *render(PyObject *self, PyObject *args)
{
    Py_buffer buf, styles;
    PyObject *heads, *statics, *ret = NULL;
    Py_ssize_t pos;
    long long events, icount;
    const char *head[256], *stat[256];
    Py_ssize_t head_len[256], stat_len[256];
    int status = ST_MORE;
    Out o = {NULL, 0, 0};

    if (!PyArg_ParseTuple(args, "y*ny*O!O!LL", &buf, &pos, &styles,
                          &PyTuple_Type, &heads, &PyTuple_Type, &statics,
                          &events, &icount)) {
        return NULL;
    }
    if (styles.len != 256 || PyTuple_GET_SIZE(heads) != 256 ||
        PyTuple_GET_SIZE(statics) != 256) {
        PyErr_SetString(PyExc_ValueError, "tables must have 256 entries");
        goto out;
    }
    for (int i = 0; i < 256; i++) {
        PyObject *h = PyTuple_GET_ITEM(heads, i);
        PyObject *s = PyTuple_GET_ITEM(statics, i);
        head[i] = NULL;
        head_len[i] = 0;
        if (h != Py_None &&
            PyBytes_AsStringAndSize(h, (char **)&head[i], &head_len[i])) {
            goto out;
        }
        if (PyBytes_AsStringAndSize(s, (char **)&stat[i], &stat_len[i])) {
            goto out;
        }
        if (head_len[i] > 200 || stat_len[i] > 200) {
            PyErr_SetString(PyExc_ValueError, "name too long");
            goto out;
        }
    }

    {
        const uint8_t *b = buf.buf;
        const uint8_t *st = styles.buf;
        Py_ssize_t n = buf.len;
        int nomem = 0;

        Py_BEGIN_ALLOW_THREADS
        while (pos < n) {
            int id = b[pos];
            int style = head[id] ? st[id] : S_PY;
            const uint8_t *p = b + pos + 1;
            Py_ssize_t avail = n - pos - 1, size;

            switch (style) {
            case S_INSN:
            case S_SIGNED:
                size = style == S_INSN ? 4 : 8;
                break;
            case S_STATIC:
                size = 0;
                break;
            case S_ID:
            case S_HEX:
            case S_CHAR_WRITE:
                size = 8;
                break;
            case S_NET:
            case S_RANDOM: {
                Py_ssize_t fixed = style == S_NET ? 9 : 8;
                uint32_t len;
                if (avail < fixed) {
                    size = avail + 1;   /* short */
                    break;
                }
                len = be32(p + fixed - 4);
                if (len > MAX_ARRAY) {
                    size = -1;
                    break;
                }
                size = fixed + len;
                break;
            }
            default:
                size = -1;
            }
            if (size < 0) {
                status = ST_HANDOVER;
                break;
            }
            if (size > avail) {
                break;                  /* need more data */
            }
            if (o.len >= RENDER_BATCH) {
                status = ST_FULL;
                break;
            }
            if (out_reserve(&o, 128 + head_len[id] + stat_len[id] + 64)) {
                nomem = 1;
                break;
            }
            events++;
            put_u64(&o, (uint64_t)events);
            o.buf[o.len++] = ':';
            put_mem(&o, head[id], head_len[id]);
            switch (style) {
            case S_INSN: {
                uint32_t d = be32(p);
                icount += d;
                PUT_LIT(&o, " + ");
                put_u64(&o, d);
                PUT_LIT(&o, " -> ");
                put_u64(&o, (uint64_t)icount);
                break;
            }
            case S_STATIC:
                put_mem(&o, stat[id], stat_len[id]);
                break;
            case S_ID:
                PUT_LIT(&o, " id:");
                put_u64(&o, be64(p));
                break;
            case S_HEX:
                PUT_LIT(&o, " 0x");
                put_hex(&o, be64(p));
                break;
            case S_SIGNED:
                o.buf[o.len++] = ' ';
                put_i64(&o, (int64_t)be64(p));
                break;
            case S_CHAR_WRITE:
                o.buf[o.len++] = ' ';
                put_i64(&o, (int32_t)be32(p + 4));
                PUT_LIT(&o, " -> ");
                put_i64(&o, (int32_t)be32(p));
                break;
            case S_NET:
                PUT_LIT(&o, " net:");
                put_hex(&o, p[0]);
                PUT_LIT(&o, " flags:");
                put_hex(&o, be32(p + 1));
                PUT_LIT(&o, " bytes:");
                put_u64(&o, be32(p + 5));
                break;
            case S_RANDOM:
                o.buf[o.len++] = ' ';
                put_u64(&o, be32(p + 4));
                PUT_LIT(&o, " bytes");
                if (be32(p)) {
                    PUT_LIT(&o, " (getrandom failed)");
                }
                break;
            }
            o.buf[o.len++] = '\n';
            pos += 1 + size;
        }
        Py_END_ALLOW_THREADS
        if (nomem) {
            PyErr_NoMemory();
            goto out;
        }
    }
    {
        PyObject *text = PyBytes_FromStringAndSize(o.buf ? o.buf : "",
                                                   (Py_ssize_t)o.len);
        if (text) {
            ret = Py_BuildValue("(NnLLi)", text, pos, events, icount,
                                status);
        }
    }
out:
    free(o.buf);
    PyBuffer_Release(&buf);
    PyBuffer_Release(&styles);
    return ret;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "Count events of a replay-log buffer (see backend.py)."},
    {"render", render, METH_VARARGS,
     "Render replay-log events as replay-dump.py style text."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan",
    "C scanner of QEMU replay logs (optional accelerator).", -1, methods,
    NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC PyInit__scan(void)
{
    return PyModule_Create(&module);
}

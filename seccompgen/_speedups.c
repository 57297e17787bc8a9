/* Compiled inner loops for seccompgen: the strace line scanner and the graph fold.
 *
 * Both functions are accelerators with a pure-Python twin that stays authoritative:
 *
 *   scan(batch, i, out, table, pending, lo, hi, phase) -> int
 *       Reads strace lines batch[i:], appends one SyscallEvent to ``out`` for each complete or
 *       resumed call, records "<unfinished ...>" starts in ``pending``, and returns the index of
 *       the first line it did not take (len(batch) when it took them all).
 *   fold_chunk(chunk, i, counts, transitions, arg_tuples, last) -> int
 *       Folds events chunk[i:] into the graph's dicts and returns the index of the first event it
 *       did not fold (len(chunk) when it folded them all).
 *
 * The rule that makes this safe: a line (or event) is taken only when every check below proves
 * that the Python code in seccompgen/parsing/strace.py (seccompgen/graph/fold.py) would produce
 * the very same result from it.  Anything else -- an unusual shape, a first-seen thread, a clone, a
 * timestamp outside the current phase window, a number too large for 64 bits -- is *declined*:
 * the function stops and returns that index, and the Python code handles the item exactly as it
 * would without this module, then calls in again.  Declining is always correct, only slower, so
 * every "when in doubt" below declines.  Neither function raises for bad input; they raise only
 * MemoryError (or a dict/set operation's own error) and leave the state as it was before the
 * item being processed.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h> /* T_OBJECT_EX, READONLY */
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* Slots of the event classes, found once at import through their member descriptors.        */

enum { S_NAME, S_ARCH, S_PID, S_TID, S_RET, S_ERRNO, S_TS, S_ARGS, S_PHASE, N_SLOTS };
static const char *const slot_names[N_SLOTS] = {
    "name", "arch", "pid", "tid", "ret", "errno", "timestamp", "args", "phase",
};
static Py_ssize_t sc_off[N_SLOTS];
static Py_ssize_t exit_tid_off;
static PyTypeObject *syscall_type; /* seccompgen.events.SyscallEvent */
static PyTypeObject *exit_type;    /* seccompgen.events.ExitEvent */

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* The offset of a __slots__ member, or -1 with an exception set.  Only a plain object slot
 * (T_OBJECT_EX, writable) is accepted, which is what __slots__ creates; anything else means the
 * class changed shape and the module refuses to load, so the pure path is used instead. */
static Py_ssize_t
slot_offset(PyTypeObject *tp, const char *name)
{
    PyObject *d = PyDict_GetItemString(tp->tp_dict, name);
    if (d == NULL || !Py_IS_TYPE(d, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a slot", tp->tp_name, name);
        return -1;
    }
    PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
    if (m->type != T_OBJECT_EX || (m->flags & READONLY) || m->offset <= 0) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a plain object slot", tp->tp_name, name);
        return -1;
    }
    return m->offset;
}

/* ------------------------------------------------------------------------------------------ */
/* A bounded, direct-mapped intern table: the same bytes give the same str object, so dict     */
/* lookups downstream (pending, the thread table, the graph's counters) use a cached hash.     */
/* Bounded by construction (a colliding entry replaces the old one), so memory stays flat.     */

#define INTERN_SIZE 4096
#define INTERN_MAXLEN 64
typedef struct {
    Py_hash_t h;
    PyObject *s; /* owned, or NULL */
} intern_slot;
static intern_slot intern_tab[INTERN_SIZE];

static Py_hash_t
fnv(const char *p, Py_ssize_t n)
{
    Py_uhash_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    }
    return (Py_hash_t)(h >> 1);
}

/* New reference to an ASCII str with these bytes (the caller checked they are ASCII). */
static PyObject *
intern_ascii(const char *p, Py_ssize_t n)
{
    if (n > INTERN_MAXLEN) {
        return PyUnicode_FromStringAndSize(p, n);
    }
    Py_hash_t h = fnv(p, n);
    intern_slot *e = &intern_tab[h & (INTERN_SIZE - 1)];
    if (e->s != NULL && e->h == h && PyUnicode_GET_LENGTH(e->s) == n &&
        memcmp(PyUnicode_1BYTE_DATA(e->s), p, (size_t)n) == 0) {
        Py_INCREF(e->s);
        return e->s;
    }
    PyObject *s = PyUnicode_FromStringAndSize(p, n);
    if (s == NULL) {
        return NULL;
    }
    Py_XSETREF(e->s, Py_NewRef(s));
    e->h = h;
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Argument lists: the same result as seccompgen.parsing._args.parse_args, or "decline".       */

#define MAX_ARGS 64

static int
is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || c == '_';
}

static int
is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* An unsigned value from digits of one base; 0 on overflow risk (the caller declines then). */
static int
digits_value(const char *p, Py_ssize_t n, int base, unsigned long long *out)
{
    /* Caps well inside 64 bits, so no overflow check is needed per digit; longer numbers are
     * declined and Python's arbitrary-precision int() handles them. */
    Py_ssize_t cap = base == 16 ? 16 : base == 8 ? 21 : 19;
    if (n > cap) {
        return 0;
    }
    unsigned long long v = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        v = v * (unsigned)base + (unsigned)hexval(p[i]);
    }
    *out = v;
    return 1;
}

/* The value of one printed argument, as _args.scalar gives it: a new reference to an int or to
 * None, or NULL with *decline set (no exception) when this code cannot be sure.  ``p`` has no
 * bytes below 0x21 at either end: the caller stripped spaces, the only whitespace allowed. */
static PyObject *
scalar(const char *p, Py_ssize_t n, int *decline)
{
    for (Py_ssize_t i = 0; i + 1 < n; i++) {
        if (p[i] == '/' && p[i + 1] == '*') {
            /* a comment is replaced by a space and the token stripped again, with \s being
             * Unicode whitespace: rare (execve's environment count), so Python does it */
            *decline = 1;
            return NULL;
        }
    }
    if (n == 4 && memcmp(p, "NULL", 4) == 0) {
        return PyLong_FromLong(0); /* strace prints a zero pointer as NULL */
    }
    if (n > 0 && p[n - 1] == '>') {
        const char *lt = memchr(p, '<', (size_t)n);
        if (lt != NULL) {
            n = lt - p; /* -y decoration "3</etc/passwd>": the number before the first '<' */
        }
    }
    /* _NUMBER: -?(?:0x[0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*), the whole token */
    int neg = 0;
    const char *d = p;
    Py_ssize_t m = n;
    if (m > 0 && *d == '-') {
        neg = 1;
        d++;
        m--;
    }
    int base;
    if (m >= 3 && d[0] == '0' && d[1] == 'x') {
        base = 16;
        d += 2;
        m -= 2;
        for (Py_ssize_t i = 0; i < m; i++) {
            if (hexval(d[i]) < 0) Py_RETURN_NONE;
        }
    }
    else if (m >= 1 && d[0] == '0') {
        base = 8;
        for (Py_ssize_t i = 1; i < m; i++) {
            if (d[i] < '0' || d[i] > '7') Py_RETURN_NONE;
        }
    }
    else if (m >= 1 && d[0] >= '1' && d[0] <= '9') {
        base = 10;
        for (Py_ssize_t i = 1; i < m; i++) {
            if (d[i] < '0' || d[i] > '9') Py_RETURN_NONE;
        }
    }
    else {
        Py_RETURN_NONE;
    }
    unsigned long long v;
    if (!digits_value(d, m, base, &v)) {
        *decline = 1;
        return NULL;
    }
    if (!neg) {
        return PyLong_FromUnsignedLongLong(v);
    }
    if (v <= (unsigned long long)LLONG_MAX) {
        return PyLong_FromLongLong(-(long long)v);
    }
    *decline = 1; /* -2**63 and below: rare, Python's int() does it */
    return NULL;
}

/* Whether bytes hold a control character (or DEL, or non-ASCII).  Branch-free so that the
 * compiler can vectorise it. */
static int
has_control(const char *p, Py_ssize_t n)
{
    unsigned bad = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        bad |= (c < 0x20) | (c >= 0x7f);
    }
    return bad != 0;
}

/* Parsed argument lists by their text, as strace.py's args_cache: a Go program repeats a few
 * hundred distinct argument texts over and over (futex words, epoll fds), and a hit skips the
 * split, the int conversions and the tuple.  Direct-mapped and bounded like the intern table:
 * at most ARGS_CACHE_SIZE texts of at most ARGS_CACHE_MAXLEN bytes are held. */
#define ARGS_CACHE_SIZE 4096
#define ARGS_CACHE_MAXLEN 160
typedef struct {
    Py_hash_t h;
    Py_ssize_t n;
    char *key;       /* ARGS_CACHE_MAXLEN bytes, allocated on first use */
    PyObject *tuple; /* owned, or NULL */
} args_slot;
static args_slot args_tab[ARGS_CACHE_SIZE];

/* _args.split_args + scalar over the concatenation of two byte runs (the two halves of a
 * resumed call; ``b`` may be empty).  Neither may hold a control byte (the caller checked):
 * only the space is whitespace then, while Python's str.strip() also strips tabs, \x1c-\x1f
 * and others.  Returns a new tuple, or NULL with *decline set (no exception) or NULL with an
 * exception (memory). */
static PyObject *
parse_args2(const char *a, Py_ssize_t na, const char *b, Py_ssize_t nb, int *decline)
{
    char stack[4096];
    char *heap = NULL;
    const char *t;
    Py_ssize_t n = na + nb;
    if (nb == 0) {
        t = a;
    }
    else if (n <= (Py_ssize_t)sizeof stack) {
        memcpy(stack, a, (size_t)na);
        memcpy(stack + na, b, (size_t)nb);
        t = stack;
    }
    else {
        heap = PyMem_Malloc((size_t)n);
        if (heap == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        memcpy(heap, a, (size_t)na);
        memcpy(heap + na, b, (size_t)nb);
        t = heap;
    }
    PyObject *result = NULL;
    args_slot *slot = NULL;
    Py_hash_t h = 0;
    if (n <= ARGS_CACHE_MAXLEN) {
        h = fnv(t, n);
        slot = &args_tab[h & (ARGS_CACHE_SIZE - 1)];
        if (slot->tuple != NULL && slot->h == h && slot->n == n &&
            memcmp(slot->key, t, (size_t)n) == 0) {
            result = Py_NewRef(slot->tuple);
            goto done;
        }
    }
    Py_ssize_t starts[MAX_ARGS], ends[MAX_ARGS];
    int count = 0;
    int blank = 1;
    for (Py_ssize_t i = 0; i < n && blank; i++) {
        blank = t[i] == ' ';
    }
    if (blank) { /* "if not text.strip(): return []" */
        result = PyTuple_New(0);
        goto done;
    }
    /* split_args: top-level commas; quotes with backslash escapes, comments, -y decorations
     * and the three bracket kinds as in _args.split_args, step for step. */
    {
        Py_ssize_t depth = 0, start = 0, i = 0;
        while (i < n) {
            char c = t[i];
            if (c == '"' || c == '\'') {
                i += 1;
                while (i < n && t[i] != c) {
                    i += t[i] == '\\' ? 2 : 1;
                }
            }
            else if (c == '/' && i + 1 < n && t[i + 1] == '*') {
                const char *end = NULL;
                for (Py_ssize_t k = i + 2; k + 1 < n; k++) {
                    if (t[k] == '*' && t[k + 1] == '/') {
                        end = t + k;
                        break;
                    }
                }
                i = end == NULL ? n : (end - t) + 1;
            }
            else if (c == '<' && i > 0 && t[i - 1] >= '0' && t[i - 1] <= '9') {
                const char *end = memchr(t + i + 1, '>', (size_t)(n > i + 1 ? n - i - 1 : 0));
                i = end == NULL ? n : end - t;
            }
            else if (c == '{' || c == '[' || c == '(') {
                depth += 1;
            }
            else if (c == '}' || c == ']' || c == ')') {
                depth = depth > 0 ? depth - 1 : 0;
            }
            else if (c == ',' && depth == 0) {
                if (count == MAX_ARGS) {
                    *decline = 1;
                    goto done;
                }
                starts[count] = start;
                ends[count] = i;
                count++;
                start = i + 1;
            }
            i += 1;
        }
        if (count == MAX_ARGS) {
            *decline = 1;
            goto done;
        }
        starts[count] = start;
        ends[count] = n;
        count++;
    }
    result = PyTuple_New(count);
    if (result == NULL) goto done;
    for (int k = 0; k < count; k++) {
        Py_ssize_t s = starts[k], e = ends[k];
        while (s < e && t[s] == ' ') s++;
        while (e > s && t[e - 1] == ' ') e--;
        /* A named field (clone's "flags=0x...": _args.parse_args puts those at their kernel
         * index) or a flag set ("0x1|0x800": their OR): rare, Python does them. */
        Py_ssize_t q = s;
        while (q < e && is_name_char(t[q])) q++;
        if ((q > s && q < e && t[q] == '=' && is_name_start(t[s])) ||
            (s < e && t[s] >= '0' && t[s] <= '9' && memchr(t + s, '|', (size_t)(e - s)) != NULL)) {
            *decline = 1;
            Py_CLEAR(result);
            goto done;
        }
        PyObject *v = scalar(t + s, e - s, decline);
        if (v == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyTuple_SET_ITEM(result, k, v);
    }
    PyObject_GC_UnTrack(result); /* ints and None only: no cycle can pass through it */
    if (slot != NULL) {
        if (slot->key == NULL) {
            slot->key = PyMem_Malloc(ARGS_CACHE_MAXLEN);
        }
        if (slot->key != NULL) { /* no memory for the key: simply not cached */
            memcpy(slot->key, t, (size_t)n);
            slot->n = n;
            slot->h = h;
            Py_XSETREF(slot->tuple, Py_NewRef(result));
        }
    }
done:
    PyMem_Free(heap);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* Return values: _RET_TAIL.match(tail), "(0x[0-9a-f]+|-?\d+|\?)(?: (E[A-Z0-9_]+))?", then     */
/* int(text, 0).  Sets *ret / *err to new references (None for absent); 0 means decline.      */

static int
parse_ret(const char *p, const char *end, PyObject **ret, PyObject **err)
{
    const char *q = p;
    if (q < end && *q == '?') {
        *ret = Py_NewRef(Py_None);
        q++;
    }
    else if (end - q >= 3 && q[0] == '0' && q[1] == 'x' &&
             ((q[2] >= '0' && q[2] <= '9') || (q[2] >= 'a' && q[2] <= 'f'))) {
        const char *d = q + 2;
        q = d;
        while (q < end && ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f'))) q++;
        unsigned long long v;
        if (!digits_value(d, q - d, 16, &v)) return 0;
        *ret = PyLong_FromUnsignedLongLong(v);
        if (*ret == NULL) return -1;
    }
    else {
        int neg = 0;
        if (q < end && *q == '-') {
            neg = 1;
            q++;
        }
        const char *d = q;
        while (q < end && *q >= '0' && *q <= '9') q++;
        if (q == d) return 0; /* no match: Python's regular-expression path decides */
        /* int("0755", 0) raises; a leading zero is accepted only as "0" itself */
        if (d[0] == '0' && q - d > 1) return 0;
        unsigned long long v;
        if (!digits_value(d, q - d, 10, &v) || v > (unsigned long long)LLONG_MAX) return 0;
        *ret = PyLong_FromLongLong(neg ? -(long long)v : (long long)v);
        if (*ret == NULL) return -1;
    }
    if (end - q >= 2 && q[0] == ' ' && q[1] == 'E') {
        const char *e = q + 1;
        const char *r = e + 1;
        while (r < end && ((*r >= 'A' && *r <= 'Z') || (*r >= '0' && *r <= '9') || *r == '_')) r++;
        if (r - e < 2) {
            /* "E[A-Z0-9_]+" needs a character after the E; the group is then absent */
            *err = Py_NewRef(Py_None);
            return 1;
        }
        *err = intern_ascii(e, r - e);
        if (*err == NULL) {
            Py_CLEAR(*ret);
            return -1;
        }
    }
    else {
        *err = Py_NewRef(Py_None);
    }
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* scan                                                                                        */

static const char UNFINISHED[] = "<unfinished ...>";
#define UNFINISHED_LEN 16

static int
is_clone(const char *p, Py_ssize_t n)
{
    /* the clone family changes the thread table (strace.py note_clone): Python does it */
    return (n == 5 && memcmp(p, "clone", 5) == 0) || (n == 6 && memcmp(p, "clone3", 6) == 0) ||
           (n == 4 && memcmp(p, "fork", 4) == 0) || (n == 5 && memcmp(p, "vfork", 5) == 0);
}

/* A timestamp as the fast path reads it, "\d+(\.\d+)?" only; the float is what float(text)
 * gives, because both go through PyOS_string_to_double. */
static PyObject *
parse_ts(const char *p, Py_ssize_t n)
{
    /* Clinger's fast path: when the digits without the point form an integer M < 2**53 and
     * there are k <= 22 digits after the point, M and 10**k are exact doubles and one IEEE
     * division gives the correctly rounded value of M / 10**k -- the value float(text) gives,
     * since Python's float() rounds correctly too (Python/dtoa.c).  x86-64 does this in SSE2
     * double precision, without the x87's extended intermediate. */
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    unsigned long long m = 0;
    int frac = -1, digits = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (p[i] == '.') {
            frac = 0;
            continue;
        }
        m = m * 10 + (unsigned)(p[i] - '0');
        if (frac >= 0) frac++;
        if (++digits > 18) break; /* no longer sure to fit: the general path below */
    }
#if defined(__FLT_EVAL_METHOD__) && __FLT_EVAL_METHOD__ == 0
    if (digits <= 18 && m < (1ULL << 53) && frac <= 22) {
        return PyFloat_FromDouble((double)m / pow10[frac < 0 ? 0 : frac]);
    }
#endif
    char buf[64];
    if (n >= (Py_ssize_t)sizeof buf) return NULL;
    memcpy(buf, p, (size_t)n);
    buf[n] = '\0';
    char *endp;
    double v = PyOS_string_to_double(buf, &endp, NULL);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return NULL;
    }
    if (endp != buf + n) return NULL;
    return PyFloat_FromDouble(v);
}

/* Whether a thread table entry has the shape strace.py writes: (tid, group, arch). */
static int
good_info(PyObject *info)
{
    return info != NULL && PyTuple_CheckExact(info) && PyTuple_GET_SIZE(info) == 3 &&
           PyLong_CheckExact(PyTuple_GET_ITEM(info, 0)) &&
           PyLong_CheckExact(PyTuple_GET_ITEM(info, 1)) &&
           PyUnicode_CheckExact(PyTuple_GET_ITEM(info, 2));
}

static PyObject *
new_event(PyObject *name, PyObject *info, PyObject *ret, PyObject *err, PyObject *ts,
          PyObject *args, PyObject *phase)
{
    /* What object.__new__(SyscallEvent) does for a slotted class without __init__, then one
     * store per slot, as the slot descriptors' __set__ would do. */
    PyObject *ev = syscall_type->tp_alloc(syscall_type, 0);
    if (ev == NULL) return NULL;
    SLOT(ev, sc_off[S_NAME]) = Py_NewRef(name);
    SLOT(ev, sc_off[S_ARCH]) = Py_NewRef(PyTuple_GET_ITEM(info, 2));
    SLOT(ev, sc_off[S_PID]) = Py_NewRef(PyTuple_GET_ITEM(info, 1));
    SLOT(ev, sc_off[S_TID]) = Py_NewRef(PyTuple_GET_ITEM(info, 0));
    SLOT(ev, sc_off[S_RET]) = Py_NewRef(ret);
    SLOT(ev, sc_off[S_ERRNO]) = Py_NewRef(err);
    SLOT(ev, sc_off[S_TS]) = Py_NewRef(ts);
    SLOT(ev, sc_off[S_ARGS]) = Py_NewRef(args);
    SLOT(ev, sc_off[S_PHASE]) = Py_NewRef(phase);
    /* The cycle collector need not look at an event: it is frozen and holds only str, int,
     * float, None, a tuple of int/None and the Phase member, none of which can lead back to
     * it.  CPython untracks immutable tuples of atomic values the same way
     * (_PyTuple_MaybeUntrack).  Untracked, the millions of events of a long trace do not make
     * every generation-0 collection walk them. */
    PyObject_GC_UnTrack(ev);
    return ev;
}

/* One line.  Returns 1 taken, 0 declined, -1 error (exception set, nothing changed). */
static int
scan_line(PyObject *line, PyObject *out, PyObject *table, PyObject *pending, double lo, double hi,
          PyObject *phase)
{
    if (!PyUnicode_CheckExact(line) || !PyUnicode_IS_COMPACT_ASCII(line)) {
        return 0; /* non-ASCII text (and str subclasses) take the Python path */
    }
    const char *s = (const char *)PyUnicode_1BYTE_DATA(line);
    Py_ssize_t n = PyUnicode_GET_LENGTH(line);
    /* One line, ending in its newline, without other control bytes: the Python fast path's
     * isascii()/newline checks, narrowed so that the space is the only whitespace seen here. */
    if (n < 2 || s[n - 1] != '\n') return 0;
    const char *end = s + n - 1; /* the newline */
    if (has_control(s, n - 1)) return 0;
    /* "PID TS REST": the pid of -o FILE output (strace pads it with spaces, "%-5u "), then the
     * -ttt timestamp; "[pid N]" stderr prefixes and other forms are left to Python. */
    const char *p = s;
    while (p < end && *p >= '0' && *p <= '9') p++;
    if (p == s || p - s > 10 || p >= end || *p != ' ') return 0;
    const char *key_s = s;
    Py_ssize_t key_n = p - s;
    while (p < end && *p == ' ') p++;
    const char *ts_s = p;
    while (p < end && *p >= '0' && *p <= '9') p++;
    if (p == ts_s) return 0;
    if (p < end && *p == '.') {
        const char *f = ++p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == f) return 0;
    }
    if (p >= end || *p != ' ') return 0;
    Py_ssize_t ts_n = p - ts_s;
    const char *r = p + 1; /* REST, up to ``end`` (the newline excluded) */
    Py_ssize_t rn = end - r;

    int unfinished_end = rn >= UNFINISHED_LEN &&
                         memcmp(end - UNFINISHED_LEN, UNFINISHED, UNFINISHED_LEN) == 0;
    if (unfinished_end) {
        /* "NAME(ARGS <unfinished ...>": remember it until it resumes (strace(1), -f) */
        const char *q = r;
        if (q >= end || !is_name_start(*q)) return 0;
        while (q < end && is_name_char(*q)) q++;
        if (q >= end || *q != '(') return 0;
        const char *a = q + 1;
        const char *a_end = end - UNFINISHED_LEN;
        PyObject *key = intern_ascii(key_s, key_n);
        if (key == NULL) return -1;
        PyObject *info = PyDict_GetItemWithError(table, key);
        if (!good_info(info)) {
            Py_DECREF(key);
            /* a thread seen for the first time: strace.py thread() decides its group */
            return PyErr_Occurred() ? -1 : 0;
        }
        int has = PyDict_Contains(pending, key);
        if (has != 0) {
            /* a start without its resume is flushed by Python first */
            Py_DECREF(key);
            return has < 0 ? -1 : 0;
        }
        PyObject *ts = parse_ts(ts_s, ts_n);
        if (ts == NULL) {
            Py_DECREF(key);
            return 0;
        }
        PyObject *name = intern_ascii(r, q - r);
        PyObject *atext = name ? PyUnicode_FromStringAndSize(a, a_end - a) : NULL;
        PyObject *entry = atext ? PyTuple_Pack(3, name, atext, ts) : NULL;
        if (entry != NULL) {
            PyObject_GC_UnTrack(entry); /* str, str, float: no cycle can pass through it */
        }
        int rc = entry ? PyDict_SetItem(pending, key, entry) : -1;
        Py_XDECREF(entry);
        Py_XDECREF(atext);
        Py_XDECREF(name);
        Py_DECREF(ts);
        Py_DECREF(key);
        return rc < 0 ? -1 : 1;
    }
    /* "<unfinished ...>" anywhere else (a call cut off by its thread's exit): Python */
    for (const char *c = r; (c = memchr(c, '<', (size_t)(end - c))) != NULL; c++) {
        if (end - c >= UNFINISHED_LEN && memcmp(c, UNFINISHED, UNFINISHED_LEN) == 0) return 0;
    }
    /* NAME(ARGS) = RET  or  <... NAME resumed>ARGS) = RET */
    const char *name_s, *astart;
    Py_ssize_t name_n;
    int resumed = rn > 5 && memcmp(r, "<... ", 5) == 0;
    if (resumed) {
        name_s = r + 5;
        const char *q = name_s;
        if (q >= end || !is_name_start(*q)) return 0;
        while (q < end && is_name_char(*q)) q++;
        if (end - q < 9 || memcmp(q, " resumed>", 9) != 0) return 0;
        name_n = q - name_s;
        astart = q + 9;
    }
    else {
        name_s = r;
        const char *q = r;
        if (q >= end || !is_name_start(*q)) return 0;
        while (q < end && is_name_char(*q)) q++;
        if (q >= end || *q != '(') return 0;
        name_n = q - r;
        astart = q + 1;
    }
    if (is_clone(name_s, name_n)) return 0;
    /* _CALL's greedy "(.*)\) +=" ends the arguments at the last " = " on the line, when a ')'
     * and only spaces precede it (the same test as the Python fast path). */
    const char *eq = NULL;
    for (const char *c = end - 3; c >= r; c--) {
        if (c[0] == ' ' && c[1] == '=' && c[2] == ' ') {
            eq = c;
            break;
        }
    }
    if (eq == NULL) return 0;
    const char *pe = eq - 1;
    while (pe >= astart && *pe == ' ') pe--;
    if (pe < astart || *pe != ')') return 0;
    const char *args_end = pe;

    PyObject *key = NULL, *info, *start = NULL, *ts = NULL, *ret = NULL, *err = NULL;
    PyObject *args = NULL, *name = NULL, *ev = NULL;
    int rc = 0;
    int pr = parse_ret(eq + 3, end, &ret, &err);
    if (pr <= 0) return pr;
    key = intern_ascii(key_s, key_n);
    if (key == NULL) goto error;
    info = PyDict_GetItemWithError(table, key);
    if (!good_info(info)) {
        if (PyErr_Occurred()) goto error;
        goto decline;
    }
    const char *pre = "";
    Py_ssize_t pre_n = 0;
    if (resumed) {
        /* joined with its "<unfinished ...>" start; without a matching start Python warns */
        start = PyDict_GetItemWithError(pending, key);
        if (start == NULL) {
            if (PyErr_Occurred()) goto error;
            goto decline;
        }
        Py_INCREF(start);
        if (!PyTuple_CheckExact(start) || PyTuple_GET_SIZE(start) != 3) goto decline;
        PyObject *sname = PyTuple_GET_ITEM(start, 0);
        PyObject *sargs = PyTuple_GET_ITEM(start, 1);
        PyObject *sts = PyTuple_GET_ITEM(start, 2);
        if (!PyUnicode_CheckExact(sname) || !PyUnicode_IS_COMPACT_ASCII(sname) ||
            PyUnicode_GET_LENGTH(sname) != name_n ||
            memcmp(PyUnicode_1BYTE_DATA(sname), name_s, (size_t)name_n) != 0) {
            goto decline;
        }
        if (!PyUnicode_CheckExact(sargs) || !PyUnicode_IS_COMPACT_ASCII(sargs) ||
            has_control((const char *)PyUnicode_1BYTE_DATA(sargs), PyUnicode_GET_LENGTH(sargs))) {
            goto decline; /* a start the Python path recorded, with a tab in it, say */
        }
        if (sts != Py_None && !PyFloat_CheckExact(sts)) goto decline;
        pre = (const char *)PyUnicode_1BYTE_DATA(sargs);
        pre_n = PyUnicode_GET_LENGTH(sargs);
        ts = Py_NewRef(sts); /* the start line's timestamp */
        name = Py_NewRef(sname);
    }
    else {
        ts = parse_ts(ts_s, ts_n);
        if (ts == NULL) goto decline;
        name = intern_ascii(name_s, name_n);
        if (name == NULL) goto error;
    }
    if (ts != Py_None) {
        /* outside the current phase window strace.py's phase_at() moves the window */
        double t = PyFloat_AS_DOUBLE(ts);
        if (!(lo <= t && t < hi)) goto decline;
    }
    int decl = 0;
    if (pre_n) {
        args = parse_args2(pre, pre_n, astart, args_end - astart, &decl);
    }
    else {
        args = parse_args2(astart, args_end - astart, "", 0, &decl);
    }
    if (args == NULL) {
        if (decl) goto decline;
        goto error;
    }
    ev = new_event(name, info, ret, err, ts, args, phase);
    if (ev == NULL) goto error;
    if (PyList_Append(out, ev) < 0) goto error;
    if (resumed && PyDict_DelItem(pending, key) < 0) {
        /* cannot happen (the key was just found); undo the append so nothing changed */
        Py_ssize_t last = PyList_GET_SIZE(out) - 1;
        PyList_SetSlice(out, last, last + 1, NULL);
        goto error;
    }
    rc = 1;
    goto done;
decline:
    rc = 0;
    goto done;
error:
    rc = -1;
done:
    Py_XDECREF(ev);
    Py_XDECREF(args);
    Py_XDECREF(name);
    Py_XDECREF(ts);
    Py_XDECREF(start);
    Py_XDECREF(key);
    Py_XDECREF(ret);
    Py_XDECREF(err);
    return rc;
}

static PyObject *
scan(PyObject *self, PyObject *const *argv, Py_ssize_t argc)
{
    if (argc != 8) {
        PyErr_SetString(PyExc_TypeError, "scan() takes 8 arguments");
        return NULL;
    }
    PyObject *batch = argv[0], *out = argv[2], *table = argv[3], *pending = argv[4];
    PyObject *phase = argv[7];
    if (!PyList_CheckExact(batch) || !PyList_CheckExact(out) || !PyDict_CheckExact(table) ||
        !PyDict_CheckExact(pending)) {
        PyErr_SetString(PyExc_TypeError, "scan(list, int, list, dict, dict, float, float, phase)");
        return NULL;
    }
    Py_ssize_t i = PyLong_AsSsize_t(argv[1]);
    if (i == -1 && PyErr_Occurred()) return NULL;
    double lo = PyFloat_AsDouble(argv[5]);
    if (lo == -1.0 && PyErr_Occurred()) return NULL;
    double hi = PyFloat_AsDouble(argv[6]);
    if (hi == -1.0 && PyErr_Occurred()) return NULL;
    if (i < 0) i = 0;
    for (; i < PyList_GET_SIZE(batch); i++) {
        int rc = scan_line(PyList_GET_ITEM(batch, i), out, table, pending, lo, hi, phase);
        if (rc < 0) return NULL;
        if (rc == 0) break;
    }
    return PyLong_FromSsize_t(i);
}

/* ------------------------------------------------------------------------------------------ */
/* fold_chunk: the loop body of fold_events (graph/fold.py), for SyscallEvent and ExitEvent  */
/* of the exact types.                                                                        */

/* Counters keyed by tuples of objects, accumulated by object identity during one fold_chunk
 * call and added to the dict when evicted or at the end of the call.  A key is put into the
 * dict the first time it is seen, so the dict's key order (first-seen order) is the Python
 * loop's; afterwards only the pending increment grows, which saves building, hashing and
 * comparing a tuple per event.  Entries hold strong references to the key's objects, so an
 * identical pointer always means the identical object. */
#define ACC_SIZE 512
typedef struct {
    PyObject *key; /* owned tuple, or NULL */
    Py_ssize_t pending;
} acc_entry;

static int
acc_flush_one(PyObject *d, acc_entry *e)
{
    int rc = 0;
    if (e->key != NULL && e->pending > 0) {
        PyObject *v = PyDict_GetItemWithError(d, e->key);
        if (v == NULL) {
            /* the key was removed from the dict meanwhile: cannot happen with _fold's dicts */
            rc = PyErr_Occurred() ? -1 : 0;
            if (rc == 0) {
                PyObject *nv = PyLong_FromSsize_t(e->pending);
                rc = nv ? PyDict_SetItem(d, e->key, nv) : -1;
                Py_XDECREF(nv);
            }
        }
        else {
            PyObject *inc = PyLong_FromSsize_t(e->pending);
            PyObject *nv = inc ? PyNumber_Add(v, inc) : NULL;
            rc = nv ? PyDict_SetItem(d, e->key, nv) : -1;
            Py_XDECREF(nv);
            Py_XDECREF(inc);
        }
    }
    Py_CLEAR(e->key);
    e->pending = 0;
    return rc;
}

static int
acc_flush_all(PyObject *d, acc_entry *tab)
{
    int rc = 0;
    for (int k = 0; k < ACC_SIZE; k++) {
        if (tab[k].key != NULL && acc_flush_one(d, &tab[k]) < 0) {
            rc = -1; /* keep going so that every reference is released */
        }
    }
    return rc;
}

/* d[(items...)] += 1 through the accumulator. */
static int
acc_incr(PyObject *d, acc_entry *tab, PyObject **items, int n)
{
    uintptr_t h = 0;
    for (int k = 0; k < n; k++) {
        h = (h ^ ((uintptr_t)items[k] >> 4)) * (uintptr_t)0x9E3779B97F4A7C15ULL;
    }
    acc_entry *e = &tab[(h >> 20) & (ACC_SIZE - 1)];
    if (e->key != NULL) {
        int same = 1;
        for (int k = 0; k < n && same; k++) {
            same = PyTuple_GET_ITEM(e->key, k) == items[k];
        }
        if (same) {
            e->pending++;
            return 0;
        }
        if (acc_flush_one(d, e) < 0) return -1;
    }
    PyObject *key = PyTuple_New(n);
    if (key == NULL) return -1;
    for (int k = 0; k < n; k++) {
        PyTuple_SET_ITEM(key, k, Py_NewRef(items[k]));
    }
    PyObject *v = PyDict_GetItemWithError(d, key);
    if (v == NULL) {
        if (PyErr_Occurred()) {
            Py_DECREF(key);
            return -1;
        }
        /* first sight: insert now, so the dict's order is the Python loop's */
        PyObject *one = PyLong_FromLong(1);
        int rc = one ? PyDict_SetItem(d, key, one) : -1;
        Py_XDECREF(one);
        if (rc < 0) {
            Py_DECREF(key);
            return -1;
        }
        e->pending = 0;
    }
    else {
        e->pending = 1;
    }
    e->key = key;
    return 0;
}

static PyObject *
fold_chunk(PyObject *self, PyObject *const *argv, Py_ssize_t argc)
{
    if (argc != 6) {
        PyErr_SetString(PyExc_TypeError, "fold_chunk() takes 6 arguments");
        return NULL;
    }
    PyObject *chunk = argv[0], *counts = argv[2], *transitions = argv[3];
    PyObject *arg_tuples = argv[4], *last = argv[5];
    if (!PyList_CheckExact(chunk) || !PyDict_CheckExact(counts) ||
        !PyDict_CheckExact(transitions) || !PyDict_CheckExact(arg_tuples) ||
        !PyDict_CheckExact(last)) {
        PyErr_SetString(PyExc_TypeError, "fold_chunk(list, int, dict, dict, dict, dict)");
        return NULL;
    }
    Py_ssize_t i = PyLong_AsSsize_t(argv[1]);
    if (i == -1 && PyErr_Occurred()) return NULL;
    if (i < 0) i = 0;
    static acc_entry count_acc[ACC_SIZE], trans_acc[ACC_SIZE]; /* empty between calls */
    static int active = 0;
    if (active) {
        /* Called again from inside a call (a key's __eq__ running Python code): the
         * accumulators are in use, so leave these events to the Python loop. */
        return PyLong_FromSsize_t(i);
    }
    active = 1;
    int failed = 0;
    for (; i < PyList_GET_SIZE(chunk); i++) {
        PyObject *ev = PyList_GET_ITEM(chunk, i);
        PyTypeObject *cls = Py_TYPE(ev);
        if (cls == syscall_type) {
            PyObject *name = SLOT(ev, sc_off[S_NAME]);
            PyObject *arch = SLOT(ev, sc_off[S_ARCH]);
            PyObject *phase = SLOT(ev, sc_off[S_PHASE]);
            PyObject *err = SLOT(ev, sc_off[S_ERRNO]);
            PyObject *tid = SLOT(ev, sc_off[S_TID]);
            PyObject *a = SLOT(ev, sc_off[S_ARGS]);
            /* An unset slot (Python raises AttributeError), a name that is not a str or a tid
             * that is not an int (their hashing and equality could run Python code), args
             * that are not a tuple (truthiness), key parts other than str, None and Phase:
             * the Python loop handles the event.  Every check is made before the first
             * change, so declining leaves the dicts as they were. */
            if (name == NULL || arch == NULL || phase == NULL || err == NULL || tid == NULL ||
                a == NULL || !PyUnicode_CheckExact(name) || !PyTuple_CheckExact(a) ||
                !PyLong_CheckExact(tid) || !PyUnicode_CheckExact(arch) ||
                !(err == Py_None || PyUnicode_CheckExact(err)) || !PyUnicode_Check(phase)) {
                break;
            }
            PyObject *s = NULL;
            if (PyTuple_GET_SIZE(a) > 0) {
                s = PyDict_GetItemWithError(arg_tuples, name);
                if (s == NULL && PyErr_Occurred()) goto error;
                if (s != NULL && !PySet_CheckExact(s)) break;
            }
            PyObject *key[4] = {name, arch, phase, err};
            if (acc_incr(counts, count_acc, key, 4) < 0) goto error;
            /* bigrams per thread (strace(1): -f interleaves threads) */
            PyObject *prev = PyDict_GetItemWithError(last, tid);
            if (prev == NULL && PyErr_Occurred()) goto error;
            Py_XINCREF(prev);
            if (PyDict_SetItem(last, tid, name) < 0) {
                Py_XDECREF(prev);
                goto error;
            }
            if (prev != NULL) {
                PyObject *pair[2] = {prev, name};
                int rc = acc_incr(transitions, trans_acc, pair, 2);
                Py_DECREF(prev);
                if (rc < 0) goto error;
            }
            if (PyTuple_GET_SIZE(a) > 0) {
                if (s == NULL) {
                    s = PySet_New(NULL);
                    if (s == NULL) goto error;
                    int rc = PySet_Add(s, a);
                    if (rc == 0) rc = PyDict_SetItem(arg_tuples, name, s);
                    Py_DECREF(s);
                    if (rc < 0) goto error;
                }
                else if (PySet_Add(s, a) < 0) {
                    goto error;
                }
            }
        }
        else if (cls == exit_type) {
            /* an exited thread ends its chain; its tid may be reused */
            PyObject *tid = SLOT(ev, exit_tid_off);
            if (tid == NULL || !PyLong_CheckExact(tid)) break;
            PyObject *v = PyDict_GetItemWithError(last, tid);
            if (v != NULL) {
                if (PyDict_DelItem(last, tid) < 0) goto error;
            }
            else if (PyErr_Occurred()) {
                goto error;
            }
        }
        /* signals and anything else: nothing, as in the Python loop */
    }
    goto flush;
error:
    failed = 1;
flush:
    /* Release the accumulators (also on error, keeping the first exception). */
    {
        PyObject *exc_type, *exc_value, *exc_tb;
        PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
        if (acc_flush_all(counts, count_acc) < 0) failed = 1;
        if (acc_flush_all(transitions, trans_acc) < 0) failed = 1;
        if (exc_type != NULL) {
            PyErr_Restore(exc_type, exc_value, exc_tb);
        }
    }
    active = 0;
    if (failed) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return NULL;
    }
    return PyLong_FromSsize_t(i);
}

/* ------------------------------------------------------------------------------------------ */

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "scan(batch, i, out, table, pending, lo, hi, phase) -> index of the first declined line"},
    {"fold_chunk", (PyCFunction)(void (*)(void))fold_chunk, METH_FASTCALL,
     "fold_chunk(chunk, i, counts, transitions, arg_tuples, last) -> index of the first "
     "declined event"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "seccompgen._speedups",
    "Compiled inner loops of the strace parser and the graph fold (see _speedups.c).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    PyObject *events = PyImport_ImportModule("seccompgen.events");
    if (events == NULL) return NULL;
    PyObject *sc = PyObject_GetAttrString(events, "SyscallEvent");
    PyObject *ex = sc ? PyObject_GetAttrString(events, "ExitEvent") : NULL;
    Py_DECREF(events);
    if (ex == NULL) {
        Py_XDECREF(sc);
        return NULL;
    }
    if (!PyType_Check(sc) || !PyType_Check(ex)) {
        PyErr_SetString(PyExc_TypeError, "seccompgen.events classes are not types");
        goto fail;
    }
    syscall_type = (PyTypeObject *)sc;
    exit_type = (PyTypeObject *)ex;
    /* The layout this file writes into must be exactly __slots__ = (name, ..., phase): a
     * changed class makes the import fail, and the parser and graph use their Python loops. */
    PyObject *slots = PyObject_GetAttrString(sc, "__slots__");
    if (slots == NULL) goto fail;
    int ok = PyTuple_Check(slots) && PyTuple_GET_SIZE(slots) == N_SLOTS;
    for (int k = 0; ok && k < N_SLOTS; k++) {
        PyObject *it = PyTuple_GET_ITEM(slots, k);
        ok = PyUnicode_Check(it) && PyUnicode_CompareWithASCIIString(it, slot_names[k]) == 0;
    }
    Py_DECREF(slots);
    if (!ok) {
        PyErr_SetString(PyExc_TypeError, "SyscallEvent.__slots__ changed");
        goto fail;
    }
    for (int k = 0; k < N_SLOTS; k++) {
        if ((sc_off[k] = slot_offset(syscall_type, slot_names[k])) < 0) goto fail;
    }
    if ((exit_tid_off = slot_offset(exit_type, "tid")) < 0) goto fail;
    return PyModule_Create(&moduledef);
fail:
    Py_DECREF(sc);
    Py_DECREF(ex);
    syscall_type = exit_type = NULL;
    return NULL;
}

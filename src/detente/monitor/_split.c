/* Split the lines of a log in a line format (Common, Combined, or a format string) into its fields,
   in one pass.

   split(chunk: bytes, program: tuple[tuple[int, int, bytes], ...]) -> (schema capsule, array capsule)

   The program is a line format's steps (detente.monitor.formats.Step, steps_program): each a kind
   (a literal; a word, \S+; a quoted field, "[^"]*"; a bracketed field, \[[^\]]*\]; a status,
   \d{3}; or `optional`: the rest of the line may be missing), the field it captures, and a literal's
   bytes. Each shape stops before a byte it cannot read, so the format's regex never backtracks into
   one: a single forward pass reads what the regex reads.

   The result is one Arrow struct array (the Arrow C data interface, exported as the PyCapsules of
   the Arrow PyCapsule interface) with one row per line that is not blank:
   - the string fields line, addr, time, time_iso, method, path, status, size, referer, agent, xff
     and host. On a line of ASCII, each is exactly what the format's regex captures in the group of
     that name, with Rust's regex semantics. The method is the method's own field, else the
     request's first field; the target is the target's own field, else the request's second field
     (Polars' split_exact(" ", 2)); the path is the target up to its first "?". A field is null where
     the regex does not match (every field but `line`), where the format has no such field, where
     the optional tail is missing, or where the request holds no space (path).
   - the booleans `defer`, `v4` and `query`. A line holding a byte outside ASCII is deferred: its
     fields are null, and the caller reads it with the regex (Rust's \s and \d are Unicode classes).
     `v4` says that addr is an IPv4 address written as Python's ipaddress writes it (four decimal
     octets, no leading zero): detente.monitor.addr.IPV4. `query` says that the target holds a "?".
   - the integers `addr_code` and `path_code` (int32): each distinct addr (path) of the chunk gets a
     number, 0 for the first seen, 1 for the next new one, and so on; -1 where the field is null. Equal
     strings get equal numbers, different strings different ones, so a caller can count by source or
     by path with integers instead of hashing the strings again.
   - the integer `time_ms` (int64): the time as milliseconds since the epoch where the time field is
     exactly a Common Log Format time, dd/Mon/yyyy:HH:MM:SS +hhmm, of a date that exists; else null
     (Polars' strptime then reads whatever else it can: each time given here is the one it gives).
   tests/monitor/test_fast.py checks all this against the regexes themselves. Blank lines (ASCII
   white space only) have no row; a CR before a line feed is not part of the line.

   count(ms, addr_code, src_of_addr, path_code, path_flags, login_method, status, failure, missing,
         bucket_ms, out, missed) -> (groups, missed_pairs)

   The aggregates of detente.monitor.coded: a chunk's lines grouped by (bucket, source) and counted,
   with the GIL released (the parse threads then leave it, and Polars' thread pool, to the engine).
   Per line: ms (int64, the time), addr_code and path_code (int32, the splitter's codes),
   login_method (uint8: 1 if the line's method is a login method) and status (int16); per address
   code, src_of_addr (int64: its source's number); per path code, path_flags (uint8: 1 a probe path,
   2 a login path); failure and missing: the statuses of a failed login and of a missing path
   (int16). The bucket of a line is floor(ms / bucket_ms). Written: the rows of out (int64, ten rows
   of one slot per line: bucket, source, n, fail, ok, miss, probe, err, sample, interest), one
   column per group in (bucket, source) order, where a login is a line of a login path and method,
   fail a login with a failure status, ok a login with neither a failure status nor an error (>= 400),
   err a status >= 400, miss the group's distinct missing paths, and sample the first of the group's
   lines of the largest interest (4 for a probe path, plus 2 for a failed login, plus 1 for a missing
   path); and missed (int64, one slot per line): the first line of each (group, missing path), in
   (group, path code) order. tests/monitor/test_coded.py holds it to Polars' general path.

   Why C: see docs/adr/0006-native-log-splitter.md. The invariants that keep it safe on hostile
   input:
   - The chunk must be valid UTF-8 (the caller guarantees it). Lines and fields begin and end only
     next to ASCII bytes, so every string is valid UTF-8 too.
   - Every read is at an index checked against the end of its line; the outputs are sized from a
     first count of lines before any is written; nothing is allocated per line.
   - The strings are views into one copy of the chunk owned by the exported array and freed by its
     release callback, so the result holds no Python object and may be released from any thread.
   - The GIL is released while the lines are split, and while count counts: count reads only the
     buffers it holds, after checking their item sizes and lengths and every code against the size of
     the table it indexes. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The Arrow C data interface, as specified (https://arrow.apache.org/docs/format/CDataInterface.html). */
#define ARROW_FLAG_NULLABLE 2

struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

/* The columns of the result, and the fields a program captures (formats.SPLIT_FIELDS, in order). */
enum { LINE, ADDR, TIME, TIME_ISO, METHOD, PATH, STATUS, SIZE, REFERER, AGENT, XFF, HOST, NFIELDS };
static const char *FIELD_NAMES[NFIELDS] = {"line",   "addr", "time",    "time_iso", "method", "path",
                                           "status", "size", "referer", "agent",    "xff",    "host"};
enum { G_NONE, G_ADDR, G_TIME, G_TIME_ISO, G_REQUEST, G_METHOD, G_TARGET, G_STATUS, G_SIZE,
       G_REFERER, G_AGENT, G_XFF, G_HOST, NGROUPS };
/* the column of each captured field that is a column as it is (the request and target are split) */
static const int COLUMN_OF[NGROUPS] = {-1,     ADDR,    TIME,  TIME_ISO, -1,  -1, -1,
                                       STATUS, SIZE, REFERER, AGENT,   XFF, HOST};
enum { K_LITERAL, K_WORD, K_QUOTED, K_BRACKETED, K_STATUS, K_OPTIONAL, NKINDS };
#define MAX_STEPS 256

typedef struct {
    int kind, group;
    const uint8_t *text; /* a literal's bytes, in Program.texts */
    int64_t length;
} Step;

typedef struct {
    Step steps[MAX_STEPS];
    int count;
    uint8_t *texts;
} Program;
enum { DEFER, V4, QUERY, NFLAGS };
static const char *FLAG_NAMES[NFLAGS] = {"defer", "v4", "query"};
enum { ADDR_CODE, PATH_CODE, NCODES };
static const char *CODE_NAMES[NCODES] = {"addr_code", "path_code"};
static const int CODED[NCODES] = {ADDR, PATH}; /* the column each code numbers */
#define NCHILDREN (NFIELDS + NFLAGS + NCODES + 1) /* and time_ms, the last */

/* An Arrow string view: up to 12 bytes inline, longer strings by prefix, buffer and offset. */
typedef struct {
    int32_t size;
    union {
        uint8_t inline_data[12];
        struct {
            uint8_t prefix[4];
            int32_t buffer;
            int32_t offset;
        } ref;
    } u;
} View;

typedef struct {
    View *views;
    uint8_t *valid; /* validity bitmap, one bit per row */
    const void *buffers[4]; /* validity, views, the one data buffer, the data buffer sizes */
    int64_t data_sizes[1];
    struct ArrowArray array;
} Column;

typedef struct {
    uint8_t *bits; /* one bit per row, no nulls */
    const void *buffers[2];
    struct ArrowArray array;
} Flag;

typedef struct {
    int32_t *values; /* one per row, no nulls */
    const void *buffers[2];
    struct ArrowArray array;
} Codes;

typedef struct {
    int64_t *values;
    uint8_t *valid;
    const void *buffers[2];
    struct ArrowArray array;
} Stamps;

typedef struct {
    uint8_t *data; /* the copy of the chunk that every view points into */
    Column columns[NFIELDS];
    Flag flags[NFLAGS];
    Codes codes[NCODES];
    Stamps stamps;
    struct ArrowArray *children[NCHILDREN];
    const void *buffers[1];
} Table;

/* --- the lines ------------------------------------------------------------------------------ */

/* Rust's \s on ASCII: tab, line feed, vertical tab, form feed, carriage return and space (by table:
   one load a byte instead of two comparisons). */
static const uint8_t SPACE[256] = {['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1, [' '] = 1};

static inline int space(uint8_t c) { return SPACE[c]; }

/* End of the longest run of non-space bytes from i (\S*). */
static inline int64_t non_space(const uint8_t *s, int64_t i, int64_t end) {
    while (i < end && !space(s[i])) i++;
    return i;
}

/* End of the run of bytes other than `stop` from i; -1 if `stop` does not follow in the line. */
static inline int64_t until(const uint8_t *s, int64_t i, int64_t end, uint8_t stop) {
    const uint8_t *hit = memchr(s + i, stop, (size_t)(end - i));
    return hit ? (int64_t)(hit - s) : -1;
}

/* Whether a[0..n) and b[0..n) are equal: a format's literals are a few bytes, too short for a call. */
static inline int same(const uint8_t *a, const uint8_t *b, int64_t n) {
    for (int64_t k = 0; k < n; k++)
        if (a[k] != b[k]) return 0;
    return 1;
}

static inline int at(const uint8_t *s, int64_t i, int64_t end, uint8_t c) { return i < end && s[i] == c; }

static inline int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

typedef struct {
    int64_t start[NGROUPS];
    int64_t stop[NGROUPS];
    int present[NGROUPS];
} Groups;

typedef struct {
    int64_t start[NFIELDS];
    int64_t stop[NFIELDS];
    int present[NFIELDS];
    int query;
} Fields;

static void set_field(Fields *f, int column, int64_t start, int64_t stop) {
    f->start[column] = start;
    f->stop[column] = stop;
    f->present[column] = 1;
}

/* The path (the target up to its first question mark) and whether there is a query. */
static void split_target(const uint8_t *s, int64_t i, int64_t end, Fields *f) {
    int64_t question = until(s, i, end, '?');
    set_field(f, PATH, i, question < 0 ? end : question);
    f->query = question >= 0;
}

/* The fields of the groups a line matched: most as they are; the method and the target, each its own
   field if the format has one, else the request's first two fields between spaces (no target
   without a space). */
static void fields_of(const uint8_t *s, const Groups *g, Fields *f) {
    for (int k = 0; k < NGROUPS; k++)
        if (g->present[k] && COLUMN_OF[k] >= 0) set_field(f, COLUMN_OF[k], g->start[k], g->stop[k]);
    int64_t space1 = -1, request = g->start[G_REQUEST], request_end = g->stop[G_REQUEST];
    if (g->present[G_REQUEST]) space1 = until(s, request, request_end, ' ');
    if (g->present[G_METHOD])
        set_field(f, METHOD, g->start[G_METHOD], g->stop[G_METHOD]);
    else if (g->present[G_REQUEST])
        set_field(f, METHOD, request, space1 < 0 ? request_end : space1);
    if (g->present[G_TARGET]) {
        split_target(s, g->start[G_TARGET], g->stop[G_TARGET], f);
    } else if (space1 >= 0) {
        int64_t space2 = until(s, space1 + 1, request_end, ' ');
        split_target(s, space1 + 1, space2 < 0 ? request_end : space2, f);
    }
}

/* Whether s[i..end) is four decimal octets (0 to 255, no leading zero) joined by dots. */
static int ipv4(const uint8_t *s, int64_t i, int64_t end) {
    for (int octet = 0; octet < 4; octet++) {
        int64_t start = i;
        int value = 0;
        while (i < end && i - start < 4 && s[i] >= '0' && s[i] <= '9') value = value * 10 + (s[i++] - '0');
        int64_t digits = i - start;
        if (digits == 0 || digits > 3 || value > 255 || (digits > 1 && s[start] == '0')) return 0;
        if (octet < 3 && !at(s, i++, end, '.')) return 0;
    }
    return i == end;
}

/* Run the program on s[i..end), as the format's regex would: returns 0 if it does not match. The
   groups captured after an `optional` step are kept only if the whole rest matches. */
static int run(const Program *p, const uint8_t *s, int64_t i, int64_t end, Groups *g) {
    Groups before;
    int optional = 0;
    for (int k = 0; k < p->count; k++) {
        const Step *st = &p->steps[k];
        int64_t start = i, stop;
        switch (st->kind) {
        case K_OPTIONAL:
            optional = 1;
            before = *g;
            continue;
        case K_LITERAL:
            if (end - i < st->length || !same(s + i, st->text, st->length)) goto missing;
            i += st->length;
            continue;
        case K_WORD: /* \S+ */
            stop = i = non_space(s, i, end);
            if (i == start) goto missing;
            break;
        case K_QUOTED: /* "[^"]*" */
            if (!at(s, i, end, '"') || (stop = until(s, i + 1, end, '"')) < 0) goto missing;
            start = i + 1;
            i = stop + 1;
            break;
        case K_BRACKETED: /* \[[^\]]*\] */
            if (!at(s, i, end, '[') || (stop = until(s, i + 1, end, ']')) < 0) goto missing;
            start = i + 1;
            i = stop + 1;
            break;
        default: /* K_STATUS: \d{3} */
            if (end - i < 3 || !is_digit(s[i]) || !is_digit(s[i + 1]) || !is_digit(s[i + 2])) goto missing;
            stop = i += 3;
            break;
        }
        if (st->group != G_NONE) {
            g->start[st->group] = start;
            g->stop[st->group] = stop;
            g->present[st->group] = 1;
        }
        continue;
    missing:
        if (!optional) return 0;
        *g = before;
        return 1;
    }
    return 1;
}

/* Whether s[i..end) holds a byte outside ASCII: 64 bytes at a time, their eight words or-ed together
   before one test (a test per word cost a branch per eight bytes of every chunk), then the rest. */
static int beyond_ascii(const uint8_t *s, int64_t i, int64_t end) {
    for (; i + 64 <= end; i += 64) {
        uint64_t words[8], any = 0;
        memcpy(words, s + i, sizeof words);
        for (int k = 0; k < 8; k++) any |= words[k];
        if (any & 0x8080808080808080ULL) return 1;
    }
    for (; i + 8 <= end; i += 8) {
        uint64_t word;
        memcpy(&word, s + i, 8);
        if (word & 0x8080808080808080ULL) return 1;
    }
    for (; i < end; i++)
        if (s[i] >= 0x80) return 1;
    return 0;
}

/* Whether s[i..end), of ASCII, is blank. */
static int blank(const uint8_t *s, int64_t i, int64_t end) {
    for (; i < end; i++)
        if (!space(s[i])) return 0;
    return 1;
}

static inline void set_bit(uint8_t *bits, int64_t row) { bits[row >> 3] |= (uint8_t)(1u << (row & 7)); }

static inline void set_view(Column *c, int64_t row, const uint8_t *data, int64_t start, int64_t stop) {
    View *v = &c->views[row]; /* zeroed when allocated; each row is set at most once */
    int32_t size = (int32_t)(stop - start);
    v->size = size;
    if (size <= 12) {
        memcpy(v->u.inline_data, data + start, (size_t)size);
    } else {
        memcpy(v->u.ref.prefix, data + start, 4);
        v->u.ref.buffer = 0;
        v->u.ref.offset = (int32_t)start;
    }
    set_bit(c->valid, row);
}

/* --- the times ------------------------------------------------------------------------------ */

static int read_digits(const uint8_t *s, int n, int *out) {
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (!is_digit(s[k])) return 0;
        v = v * 10 + (s[k] - '0');
    }
    *out = v;
    return 1;
}

/* Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400, year_of_era = y - era * 400;
    int64_t day_of_year = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

/* The month (1 to 12) of an English abbreviation (Jan to Dec, as written: capital first), else 0. */
static int month_of(const uint8_t *s) {
    static const char MONTHS[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int m = 0; m < 12; m++)
        if (same(s, (const uint8_t *)MONTHS + 3 * m, 3)) return m + 1;
    return 0;
}

/* The day and zone of the last time read: lines come in time order, so most share them. */
typedef struct {
    uint8_t date[11]; /* dd/Mon/yyyy */
    uint8_t zone[5];  /* +hhmm */
    int64_t seconds;  /* of that day's midnight, in that zone, since the epoch (UTC) */
    int valid;
} DateCache;

/* Seconds since the epoch of midnight of dd/Mon/yyyy in the zone +hhmm (a day that exists, an offset
   under a day); else 0, *seconds untouched. */
static int clf_date(const uint8_t *s, int64_t *seconds) {
    static const int DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int d, y, oh, om, m = month_of(s + 3);
    if (m == 0 || !read_digits(s, 2, &d) || !read_digits(s + 7, 4, &y) || !read_digits(s + 22, 2, &oh) ||
        !read_digits(s + 24, 2, &om))
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d < 1 || d > DAYS[m - 1] + (m == 2 && leap) || oh > 23 || om > 59) return 0;
    int64_t offset = (int64_t)(oh * 3600 + om * 60) * (s[21] == '-' ? -1 : 1);
    *seconds = days_from_civil(y, m, d) * 86400 - offset;
    return 1;
}

/* Milliseconds since the epoch of s[0..n) if it is exactly dd/Mon/yyyy:HH:MM:SS +hhmm (English month
   abbreviation, a day that exists, no leap second, an offset under a day); else 0, *ms untouched.
   The date and zone are read again only where they differ from the cached ones (a cached pair passed
   every check when it was read). */
static int clf_time(const uint8_t *s, int64_t n, DateCache *cache, int64_t *ms) {
    int h, mi, se;
    if (n != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' || s[20] != ' ' ||
        (s[21] != '+' && s[21] != '-'))
        return 0;
    if (!read_digits(s + 12, 2, &h) || !read_digits(s + 15, 2, &mi) || !read_digits(s + 18, 2, &se) || h > 23 ||
        mi > 59 || se > 59)
        return 0;
    if (!cache->valid || memcmp(cache->date, s, 11) != 0 || memcmp(cache->zone, s + 21, 5) != 0) {
        int64_t midnight;
        if (!clf_date(s, &midnight)) return 0;
        memcpy(cache->date, s, 11);
        memcpy(cache->zone, s + 21, 5);
        cache->seconds = midnight;
        cache->valid = 1;
    }
    *ms = (cache->seconds + h * 3600 + mi * 60 + se) * 1000;
    return 1;
}

/* Split every line of data[0..size) into the columns; returns the number of rows. */
static int64_t split_lines(Table *t, const uint8_t *data, int64_t size, const Program *program) {
    int64_t row = 0, i = 0;
    int ascii = !beyond_ascii(data, 0, size);
    DateCache dates = {.valid = 0};
    while (i < size) {
        const uint8_t *nl = memchr(data + i, '\n', (size_t)(size - i));
        int64_t end = nl ? (int64_t)(nl - data) : size, next = end + 1;
        if (end > i && data[end - 1] == '\r') end--; /* a CRLF line ends at its CR */
        /* only the flags are cleared: a start or stop is read only where its flag is set */
        Groups g;
        Fields f;
        memset(g.present, 0, sizeof g.present);
        memset(f.present, 0, sizeof f.present);
        f.query = 0;
        if (!ascii && beyond_ascii(data, i, end)) {
            /* Rust's \s and \d know more than ASCII: the caller asks the regex */
            set_bit(t->flags[DEFER].bits, row);
            set_view(&t->columns[LINE], row++, data, i, end);
        } else if (run(program, data, i, end, &g)) {
            fields_of(data, &g, &f);
            for (int k = ADDR; k < NFIELDS; k++)
                if (f.present[k]) set_view(&t->columns[k], row, data, f.start[k], f.stop[k]);
            if (f.present[ADDR] && ipv4(data, f.start[ADDR], f.stop[ADDR])) set_bit(t->flags[V4].bits, row);
            if (f.query) set_bit(t->flags[QUERY].bits, row);
            if (f.present[TIME] &&
                clf_time(data + f.start[TIME], f.stop[TIME] - f.start[TIME], &dates, &t->stamps.values[row]))
                set_bit(t->stamps.valid, row);
            set_view(&t->columns[LINE], row++, data, i, end);
        } else if (!blank(data, i, end)) { /* a line the regex does not match: all but `line` null */
            set_view(&t->columns[LINE], row++, data, i, end);
        }
        i = next;
    }
    return row;
}

/* --- the codes ------------------------------------------------------------------------------ */

static inline int is_set(const uint8_t *bits, int64_t row) { return (bits[row >> 3] >> (row & 7)) & 1; }

static inline const uint8_t *view_bytes(const View *v, const uint8_t *data) {
    return v->size <= 12 ? v->u.inline_data : data + v->u.ref.offset;
}

/* CPython's keyed hash of bytes (SipHash, with the process's random secret): the strings are the
   log's, so anyone who can send a request chooses them; an unkeyed hash would let a sender make every
   path of a chunk land in one slot, and the numbering cost grow with the square of the lines. */
static inline uint64_t hash_bytes(const uint8_t *s, int32_t n) { return (uint64_t)_Py_HashBytes(s, n); }

/* Number the distinct strings of a column in order of first appearance (-1 for null): open
   addressing over at least twice as many slots as rows, each slot the first row of its string, so a
   probe always ends at an empty slot. Returns 0 if memory runs out. */
static int encode(const Column *c, const uint8_t *data, int64_t rows, int32_t *codes) {
    size_t cap = 16;
    while (cap < (size_t)rows * 2) cap <<= 1;
    int32_t *slots = malloc(cap * sizeof *slots);
    if (slots == NULL) return 0;
    memset(slots, 0xff, cap * sizeof *slots); /* -1: empty */
    int32_t next = 0;
    for (int64_t r = 0; r < rows; r++) {
        if (!is_set(c->valid, r)) {
            codes[r] = -1;
            continue;
        }
        const View *v = &c->views[r];
        const uint8_t *bytes = view_bytes(v, data);
        for (size_t i = hash_bytes(bytes, v->size) & (cap - 1);; i = (i + 1) & (cap - 1)) {
            int32_t s = slots[i];
            if (s < 0) {
                slots[i] = (int32_t)r;
                codes[r] = next++;
                break;
            }
            const View *w = &c->views[s];
            if (w->size == v->size && memcmp(view_bytes(w, data), bytes, (size_t)v->size) == 0) {
                codes[r] = codes[s];
                break;
            }
        }
    }
    free(slots);
    return 1;
}

/* --- the counts ----------------------------------------------------------------------------- */

/* A 64-bit mixer (splitmix64's finaliser). The keys hashed below are bucket numbers (from the
   server's clock) and numbers this module and its caller give out densely, never a sender's string,
   so no secret key is needed. */
static inline uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static inline int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

static inline int holds(const int16_t *set, Py_ssize_t n, int16_t value) {
    for (Py_ssize_t k = 0; k < n; k++)
        if (set[k] == value) return 1;
    return 0;
}

/* Open addressing over pairs of 64-bit integers: the number of each distinct pair, in order of first
   appearance. At least twice as many slots as pairs, so a probe always ends at an empty slot. */
typedef struct {
    int32_t *slots; /* -1: empty, else the pair's number */
    size_t mask;
    int64_t *first, *second; /* each numbered pair */
    int32_t count;
} Pairs;

static int pairs_init(Pairs *p, int64_t most) {
    size_t cap = 16;
    while (cap < (size_t)most * 2) cap <<= 1;
    p->slots = malloc(cap * sizeof *p->slots);
    p->first = malloc((size_t)(most ? most : 1) * sizeof *p->first);
    p->second = malloc((size_t)(most ? most : 1) * sizeof *p->second);
    p->mask = cap - 1;
    p->count = 0;
    if (p->slots == NULL || p->first == NULL || p->second == NULL) return 0;
    memset(p->slots, 0xff, cap * sizeof *p->slots);
    return 1;
}

static void pairs_free(Pairs *p) {
    free(p->slots);
    free(p->first);
    free(p->second);
}

/* The number of (a, b), numbered next if new; *fresh says which. */
static int32_t pairs_number(Pairs *p, int64_t a, int64_t b, int *fresh) {
    for (size_t i = mix((uint64_t)a * 0x9e3779b97f4a7c15ULL ^ (uint64_t)b) & p->mask;; i = (i + 1) & p->mask) {
        int32_t s = p->slots[i];
        if (s < 0) {
            p->slots[i] = p->count;
            p->first[p->count] = a;
            p->second[p->count] = b;
            *fresh = 1;
            return p->count++;
        }
        if (p->first[s] == a && p->second[s] == b) {
            *fresh = 0;
            return s;
        }
    }
}

typedef struct {
    int64_t first, second;
    int32_t number;
} Numbered;

static int by_pair(const void *x, const void *y) {
    const Numbered *a = x, *b = y;
    if (a->first != b->first) return a->first < b->first ? -1 : 1;
    if (a->second != b->second) return a->second < b->second ? -1 : 1;
    return 0;
}

/* The pairs' numbers in (first, second) order (NULL if memory runs out). */
static int32_t *sorted_pairs(const Pairs *p) {
    Numbered *all = malloc((size_t)(p->count ? p->count : 1) * sizeof *all);
    int32_t *order = malloc((size_t)(p->count ? p->count : 1) * sizeof *order);
    if (all != NULL && order != NULL) {
        for (int32_t k = 0; k < p->count; k++) all[k] = (Numbered){p->first[k], p->second[k], k};
        qsort(all, (size_t)p->count, sizeof *all, by_pair);
        for (int32_t k = 0; k < p->count; k++) order[k] = all[k].number;
    } else {
        free(order);
        order = NULL;
    }
    free(all);
    return order;
}

enum { O_BUCKET, O_SOURCE, O_N, O_FAIL, O_OK, O_MISS, O_PROBE, O_ERR, O_SAMPLE, O_INTEREST, NOUT };

typedef struct {
    Py_buffer ms, addr_code, src_of_addr, path_code, path_flags, login_method, status, failure, missing, out,
        missed;
} Inputs;

static void release_inputs(Inputs *in) {
    Py_buffer *all[] = {&in->ms,     &in->addr_code, &in->src_of_addr, &in->path_code,
                        &in->path_flags, &in->login_method, &in->status, &in->failure,
                        &in->missing, &in->out, &in->missed};
    for (size_t k = 0; k < sizeof all / sizeof *all; k++)
        if (all[k]->obj != NULL) PyBuffer_Release(all[k]);
}

/* Whether a buffer holds `count` items of `size` bytes (count < 0: any number). */
static int shaped(const Py_buffer *b, Py_ssize_t size, Py_ssize_t count, const char *name) {
    if (b->itemsize == size && b->len % size == 0 && (count < 0 || b->len / size == count)) return 1;
    PyErr_Format(PyExc_ValueError, "count: %s must hold %zd-byte items%s", name, size,
                 count < 0 ? "" : ", one per line (or per output slot)");
    return 0;
}

/* The groups of the lines by (bucket, source) and their counts (see the module's comment): returns 0
   with the numbers of groups and of missed pairs set, or -1 if memory runs out. No Python object is
   touched: it runs without the GIL. */
static int count_lines(const Inputs *in, int64_t bucket_ms, int64_t *groups, int64_t *missed_pairs) {
    const int64_t *ms = in->ms.buf, *src_of_addr = in->src_of_addr.buf;
    const int32_t *addr_code = in->addr_code.buf, *path_code = in->path_code.buf;
    const uint8_t *path_flags = in->path_flags.buf, *login_method = in->login_method.buf;
    const int16_t *status = in->status.buf, *failure = in->failure.buf, *missing_status = in->missing.buf;
    Py_ssize_t failures = in->failure.len / 2, missings = in->missing.len / 2;
    int64_t n = in->ms.len / 8, *out = in->out.buf, *missed = in->missed.buf;
    Pairs keys = {0}, seen = {0};
    int32_t *group = malloc((size_t)(n ? n : 1) * sizeof *group), *order = NULL, *rank = NULL, *pair_order = NULL;
    int64_t *pair_row = malloc((size_t)(n ? n : 1) * sizeof *pair_row);
    int ok = group != NULL && pair_row != NULL && pairs_init(&keys, n) && pairs_init(&seen, n);
    int fresh;
    for (int64_t i = 0; ok && i < n; i++)
        group[i] = pairs_number(&keys, floor_div(ms[i], bucket_ms), src_of_addr[addr_code[i]], &fresh);
    ok = ok && (order = sorted_pairs(&keys)) != NULL &&
         (rank = malloc((size_t)(keys.count ? keys.count : 1) * sizeof *rank)) != NULL;
    if (ok) {
        for (int32_t k = 0; k < keys.count; k++) {
            rank[order[k]] = k;
            out[O_BUCKET * n + k] = keys.first[order[k]];
            out[O_SOURCE * n + k] = keys.second[order[k]];
            for (int o = O_N; o < NOUT; o++) out[o * n + k] = o == O_INTEREST ? -1 : 0;
        }
        for (int64_t i = 0; i < n; i++) {
            int32_t g = rank[group[i]], pc = path_code[i];
            int16_t st = status[i];
            int login = (path_flags[pc] & 2) && login_method[i], failed = holds(failure, failures, st);
            int fail = login && failed, probe = path_flags[pc] & 1, miss = holds(missing_status, missings, st);
            out[O_N * n + g]++;
            out[O_FAIL * n + g] += fail;
            out[O_OK * n + g] += login && !failed && st < 400;
            out[O_PROBE * n + g] += probe;
            out[O_ERR * n + g] += st >= 400;
            int64_t interest = probe * 4 + fail * 2 + miss;
            if (interest > out[O_INTEREST * n + g]) { /* the first row of the most telling */
                out[O_INTEREST * n + g] = interest;
                out[O_SAMPLE * n + g] = i;
            }
            if (miss && (pairs_number(&seen, g, pc, &fresh), fresh)) {
                out[O_MISS * n + g]++;
                pair_row[seen.count - 1] = i;
            }
        }
        ok = (pair_order = sorted_pairs(&seen)) != NULL;
    }
    if (ok) {
        for (int32_t k = 0; k < seen.count; k++) missed[k] = pair_row[pair_order[k]];
        *groups = keys.count;
        *missed_pairs = seen.count;
    }
    free(group);
    free(order);
    free(rank);
    free(pair_order);
    free(pair_row);
    pairs_free(&keys);
    pairs_free(&seen);
    return ok ? 0 : -1;
}

static PyObject *count(PyObject *self, PyObject *args) {
    Inputs in = {0};
    long long bucket_ms;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*y*Lw*w*", &in.ms, &in.addr_code, &in.src_of_addr,
                          &in.path_code, &in.path_flags, &in.login_method, &in.status, &in.failure,
                          &in.missing, &bucket_ms, &in.out, &in.missed))
        return NULL;
    Py_ssize_t n = in.ms.len / 8, addrs = in.src_of_addr.len / 8, paths = in.path_flags.len;
    PyObject *result = NULL;
    if (!shaped(&in.ms, 8, -1, "ms") || !shaped(&in.addr_code, 4, n, "addr_code") ||
        !shaped(&in.src_of_addr, 8, -1, "src_of_addr") || !shaped(&in.path_code, 4, n, "path_code") ||
        !shaped(&in.path_flags, 1, -1, "path_flags") || !shaped(&in.login_method, 1, n, "login_method") ||
        !shaped(&in.status, 2, n, "status") || !shaped(&in.failure, 2, -1, "failure") ||
        !shaped(&in.missing, 2, -1, "missing") || !shaped(&in.out, 8, NOUT * n, "out") ||
        !shaped(&in.missed, 8, n, "missed"))
        goto done;
    if (bucket_ms <= 0) {
        PyErr_SetString(PyExc_ValueError, "count: bucket_ms must be positive");
        goto done;
    }
    const int32_t *ac = in.addr_code.buf, *pc = in.path_code.buf;
    for (Py_ssize_t i = 0; i < n; i++)
        if (ac[i] < 0 || ac[i] >= addrs || pc[i] < 0 || pc[i] >= paths) {
            PyErr_Format(PyExc_ValueError, "count: line %zd's address or path code is out of range", i);
            goto done;
        }
    int64_t groups = 0, missed_pairs = 0;
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = count_lines(&in, bucket_ms, &groups, &missed_pairs);
    Py_END_ALLOW_THREADS
    result = failed ? PyErr_NoMemory() : Py_BuildValue("(LL)", (long long)groups, (long long)missed_pairs);
done:
    release_inputs(&in);
    return result;
}

/* --- the export ----------------------------------------------------------------------------- */

static void free_table(Table *t) {
    for (int k = 0; k < NFIELDS; k++) {
        free(t->columns[k].views);
        free(t->columns[k].valid);
    }
    for (int k = 0; k < NFLAGS; k++) free(t->flags[k].bits);
    for (int k = 0; k < NCODES; k++) free(t->codes[k].values);
    free(t->stamps.values);
    free(t->stamps.valid);
    free(t->data);
    free(t);
}

static void release_child(struct ArrowArray *a) { a->release = NULL; /* the parent owns its memory */ }

static void release_array(struct ArrowArray *a) {
    for (int64_t k = 0; k < a->n_children; k++)
        if (a->children[k]->release) a->children[k]->release(a->children[k]);
    free_table((Table *)a->private_data);
    a->release = NULL;
}

static void release_schema(struct ArrowSchema *s) {
    for (int64_t k = 0; k < s->n_children; k++) free(s->children[k]);
    free(s->children);
    s->release = NULL;
}

static void release_child_schema(struct ArrowSchema *s) { s->release = NULL; }

static void schema_capsule_free(PyObject *capsule) {
    struct ArrowSchema *s = PyCapsule_GetPointer(capsule, "arrow_schema");
    if (s == NULL) return;
    if (s->release) s->release(s);
    free(s);
}

static void array_capsule_free(PyObject *capsule) {
    struct ArrowArray *a = PyCapsule_GetPointer(capsule, "arrow_array");
    if (a == NULL) return;
    if (a->release) a->release(a);
    free(a);
}

static struct ArrowSchema *make_schema(void) {
    struct ArrowSchema *s = calloc(1, sizeof *s);
    struct ArrowSchema **children = calloc(NCHILDREN, sizeof *children);
    if (s == NULL || children == NULL) goto fail;
    for (int k = 0; k < NCHILDREN; k++) {
        struct ArrowSchema *c = calloc(1, sizeof *c);
        if (c == NULL) goto fail;
        int flag = k - NFIELDS, code = k - NFIELDS - NFLAGS, stamps = k == NCHILDREN - 1;
        /* utf8 view, boolean, int32, int64 */
        c->format = k < NFIELDS ? "vu" : code < 0 ? "b" : stamps ? "l" : "i";
        c->name = k < NFIELDS ? FIELD_NAMES[k] : code < 0 ? FLAG_NAMES[flag] : stamps ? "time_ms" : CODE_NAMES[code];
        c->flags = k < NFIELDS || stamps ? ARROW_FLAG_NULLABLE : 0;
        c->release = release_child_schema;
        children[k] = c;
    }
    s->format = "+s";
    s->name = "";
    s->n_children = NCHILDREN;
    s->children = children;
    s->release = release_schema;
    return s;
fail:
    if (children)
        for (int k = 0; k < NCHILDREN; k++) free(children[k]);
    free(children);
    free(s);
    return NULL;
}

static Table *make_table(const uint8_t *chunk, int64_t size, int64_t lines) {
    Table *t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    t->data = malloc(size ? (size_t)size : 1);
    if (t->data == NULL) goto fail;
    memcpy(t->data, chunk, (size_t)size);
    for (int k = 0; k < NFIELDS; k++) {
        /* zeroed: a null slot is an empty string, as readers may look at it (Polars does) */
        t->columns[k].views = calloc((size_t)(lines ? lines : 1), sizeof(View));
        t->columns[k].valid = calloc((size_t)(lines / 8 + 1), 1);
        if (t->columns[k].views == NULL || t->columns[k].valid == NULL) goto fail;
    }
    for (int k = 0; k < NFLAGS; k++)
        if ((t->flags[k].bits = calloc((size_t)(lines / 8 + 1), 1)) == NULL) goto fail;
    for (int k = 0; k < NCODES; k++)
        if ((t->codes[k].values = malloc((size_t)(lines ? lines : 1) * sizeof(int32_t))) == NULL) goto fail;
    t->stamps.values = calloc((size_t)(lines ? lines : 1), sizeof(int64_t)); /* a null slot holds 0 */
    t->stamps.valid = calloc((size_t)(lines / 8 + 1), 1);
    if (t->stamps.values == NULL || t->stamps.valid == NULL) goto fail;
    return t;
fail:
    free_table(t);
    return NULL;
}

/* Rows whose bit is clear: a bitmap has no bit set at or beyond `rows`. */
static int64_t count_nulls(const uint8_t *valid, int64_t rows) {
    int64_t set = 0, bytes = (rows + 7) / 8, k = 0;
    for (; k + 8 <= bytes; k += 8) {
        uint64_t word;
        memcpy(&word, valid + k, 8);
        set += __builtin_popcountll(word);
    }
    for (; k < bytes; k++) set += __builtin_popcount(valid[k]);
    return rows - set;
}

/* A fixed-width child (booleans, int32 or int64): its validity bitmap (NULL: no nulls) and values. */
static struct ArrowArray *fixed_child(struct ArrowArray *a, const void **buffers, const uint8_t *valid,
                                      const void *values, int64_t rows) {
    buffers[0] = valid;
    buffers[1] = values;
    *a = (struct ArrowArray){
        .length = rows,
        .null_count = valid ? count_nulls(valid, rows) : 0,
        .n_buffers = 2,
        .buffers = buffers,
        .release = release_child,
    };
    return a;
}

static void export_columns(Table *t, int64_t rows, int64_t data_size, struct ArrowArray *out) {
    for (int k = 0; k < NFIELDS; k++) {
        Column *c = &t->columns[k];
        c->data_sizes[0] = data_size;
        c->buffers[0] = c->valid;
        c->buffers[1] = c->views;
        c->buffers[2] = t->data;
        c->buffers[3] = c->data_sizes;
        c->array = (struct ArrowArray){
            .length = rows,
            .null_count = count_nulls(c->valid, rows),
            .n_buffers = 4,
            .buffers = c->buffers,
            .release = release_child,
        };
        t->children[k] = &c->array;
    }
    for (int k = 0; k < NFLAGS; k++) {
        Flag *g = &t->flags[k];
        t->children[NFIELDS + k] = fixed_child(&g->array, g->buffers, NULL, g->bits, rows);
    }
    for (int k = 0; k < NCODES; k++) {
        Codes *c = &t->codes[k];
        t->children[NFIELDS + NFLAGS + k] = fixed_child(&c->array, c->buffers, NULL, c->values, rows);
    }
    Stamps *st = &t->stamps;
    t->children[NCHILDREN - 1] = fixed_child(&st->array, st->buffers, st->valid, st->values, rows);
    t->buffers[0] = NULL; /* the struct itself has no nulls */
    *out = (struct ArrowArray){
        .length = rows,
        .n_buffers = 1,
        .n_children = NCHILDREN,
        .buffers = t->buffers,
        .children = t->children,
        .release = release_array,
        .private_data = t,
    };
}

/* Read a program of (kind, field, literal bytes) steps into p; on failure, set an error, return 0. */
static int read_program(PyObject *steps, Program *p) {
    PyObject *seq = PySequence_Fast(steps, "the program must be a sequence of steps");
    if (seq == NULL) return 0;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq), total = 0;
    int kinds[MAX_STEPS], groups[MAX_STEPS];
    const char *texts[MAX_STEPS];
    Py_ssize_t lengths[MAX_STEPS];
    if (n > MAX_STEPS) {
        PyErr_Format(PyExc_ValueError, "a program of %zd steps is too long (at most %d)", n, MAX_STEPS);
        goto fail;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *step = PySequence_Fast_GET_ITEM(seq, k);
        if (!PyArg_ParseTuple(step, "iiy#", &kinds[k], &groups[k], &texts[k], &lengths[k])) goto fail;
        if (kinds[k] < 0 || kinds[k] >= NKINDS || groups[k] < 0 || groups[k] >= NGROUPS) {
            PyErr_Format(PyExc_ValueError, "step %zd: no kind %d or field %d", k, kinds[k], groups[k]);
            goto fail;
        }
        total += lengths[k];
    }
    if ((p->texts = malloc((size_t)total + 1)) == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t k = 0, at_text = 0; k < n; k++) {
        memcpy(p->texts + at_text, texts[k], (size_t)lengths[k]);
        p->steps[k] = (Step){kinds[k], groups[k], p->texts + at_text, lengths[k]};
        at_text += lengths[k];
    }
    p->count = (int)n;
    Py_DECREF(seq);
    return 1;
fail:
    Py_DECREF(seq);
    return 0;
}

static PyObject *split(PyObject *self, PyObject *args) {
    Py_buffer chunk;
    PyObject *steps;
    Program program = {.count = 0, .texts = NULL};
    (void)self;
    if (!PyArg_ParseTuple(args, "y*O", &chunk, &steps)) return NULL;
    if (chunk.len > INT32_MAX) {
        PyBuffer_Release(&chunk);
        return PyErr_Format(PyExc_ValueError, "a chunk of %zd bytes is too large (at most 2 GiB)", chunk.len);
    }
    if (!read_program(steps, &program)) {
        PyBuffer_Release(&chunk);
        return NULL;
    }
    const uint8_t *data = chunk.buf;
    int64_t size = chunk.len, lines = 1, rows = 0;
    Table *t = NULL;
    Py_BEGIN_ALLOW_THREADS
    for (const uint8_t *p = data; (p = memchr(p, '\n', (size_t)(data + size - p))) != NULL; p++) lines++;
    t = make_table(data, size, lines);
    if (t != NULL) rows = split_lines(t, t->data, size, &program);
    for (int k = 0; t != NULL && k < NCODES; k++)
        if (!encode(&t->columns[CODED[k]], t->data, rows, t->codes[k].values)) {
            free_table(t);
            t = NULL;
        }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&chunk);
    free(program.texts);
    struct ArrowSchema *schema = make_schema();
    struct ArrowArray *array = calloc(1, sizeof *array);
    if (t == NULL || schema == NULL || array == NULL) {
        if (t) free_table(t);
        if (schema) release_schema(schema);
        free(schema);
        free(array);
        return PyErr_NoMemory();
    }
    export_columns(t, rows, size, array);
    PyObject *schema_capsule = PyCapsule_New(schema, "arrow_schema", schema_capsule_free);
    if (schema_capsule == NULL) {
        release_schema(schema);
        free(schema);
        release_array(array);
        free(array);
        return NULL;
    }
    PyObject *array_capsule = PyCapsule_New(array, "arrow_array", array_capsule_free);
    if (array_capsule == NULL) {
        Py_DECREF(schema_capsule);
        release_array(array);
        free(array);
        return NULL;
    }
    return Py_BuildValue("(NN)", schema_capsule, array_capsule);
}

static PyMethodDef METHODS[] = {
    {"split", split, METH_VARARGS,
     "split(chunk, program) -> (schema, array): the fields of each line in the format of the program, "
     "as Arrow PyCapsules of one struct array."},
    {"count", count, METH_VARARGS,
     "count(ms, addr_code, src_of_addr, path_code, path_flags, login_method, status, failure, missing, "
     "bucket_ms, out, missed) -> (groups, missed_pairs): a chunk's lines grouped by (bucket, source) and "
     "counted; see detente.monitor.coded."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, .m_name = "_split", .m_size = -1, .m_methods = METHODS};

PyMODINIT_FUNC PyInit__split(void) { return PyModule_Create(&MODULE); }

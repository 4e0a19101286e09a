/* _numpy_bytes: the live bytes of NumPy array data and their exact peak, counted in C.
 *
 * NEP 49 data-memory functions that wrap NumPy's default handler's and only count: every
 * allocation, zeroed allocation, reallocation and free is passed to the default's own function
 * (install() swaps them into the default handler's struct), so that NumPy's small-block cache, its
 * hugepage advice and, on PyPy, its memory pressure (_PyPyGC_AddMemoryPressure in
 * _npy_alloc_cache) happen exactly as without the counter. The interpreter is told about each
 * allocation by NumPy itself: PyDataMem_UserNEW/UserFREE call PyTraceMalloc_Track/Untrack around
 * any handler (on PyPy, Track is memory pressure too), so the counter must not call them again.
 *
 * The counting allocates no Python object, so it cannot move the cyclic collector's schedule
 * (Python callbacks would: each allocates objects that the collector counts). Each pointer's size
 * is kept in a C hash table (pointer -> bytes), so a free or a realloc subtracts exactly what was
 * added, whatever size NumPy passes to free (a mismatch is counted, for the tests). A block made
 * before install() and freed after it is passed on uncounted (unknown_frees); one made while
 * counting and freed after uninstall() stays in live().
 *
 * Our own extension rather than C pointers handed to the numpy-allocator package: that package
 * installs its handler with PyDataMem_SetHandler, whose context variable moved PyPy's schedule,
 * and it would still need a compiled library of ours for the counting functions.
 *
 * Python API: install(), uninstall(), installed(), live(), peak(), reset_peak(), allocations(),
 * stats() (a dict: call it outside a measured region; it allocates).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NPY_NO_DEPRECATED_API NPY_API_VERSION
#define NPY_TARGET_VERSION NPY_2_0_API_VERSION
#include <numpy/arrayobject.h>

/* --- pointer -> size table (open addressing, linear probing, backward-shift deletion) ------ */
typedef struct {
    void *ptr;
    size_t size;
} slot_t;

/* Made by install(), before any measurement starts: a tracker such as memray, which sees this C
 * allocation, sees it grow only past INITIAL_SLOTS / 2 arrays alive at once. */
#define INITIAL_SLOTS ((size_t)1 << 16)
static slot_t *table = NULL;
static size_t capacity = 0; /* a power of two */
static size_t occupied = 0;

static size_t
slot_of(void *ptr, size_t mask)
{
    uint64_t h = (uint64_t)(uintptr_t)ptr;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h & mask;
}

static int
table_put(slot_t *into, size_t mask, void *ptr, size_t size)
{
    size_t i = slot_of(ptr, mask);
    while (into[i].ptr != NULL) {
        if (into[i].ptr == ptr) {
            into[i].size = size;
            return 0;
        }
        i = (i + 1) & mask;
    }
    into[i].ptr = ptr;
    into[i].size = size;
    return 1;
}

static int
table_grow(void)
{
    size_t new_capacity = capacity ? capacity * 2 : INITIAL_SLOTS;
    slot_t *bigger = calloc(new_capacity, sizeof(slot_t));
    if (bigger == NULL) {
        return -1;
    }
    for (size_t i = 0; i < capacity; i++) {
        if (table[i].ptr != NULL) {
            table_put(bigger, new_capacity - 1, table[i].ptr, table[i].size);
        }
    }
    free(table);
    table = bigger;
    capacity = new_capacity;
    return 0;
}

/* 0 on success, -1 when the table cannot grow. */
static int
table_insert(void *ptr, size_t size)
{
    if ((occupied + 1) * 2 > capacity && table_grow() < 0) {
        return -1;
    }
    occupied += table_put(table, capacity - 1, ptr, size);
    return 0;
}

/* Removes ptr; its size in *size. 0 if found, -1 if not. */
static int
table_remove(void *ptr, size_t *size)
{
    if (capacity == 0) {
        return -1;
    }
    size_t mask = capacity - 1, i = slot_of(ptr, mask);
    while (table[i].ptr != ptr) {
        if (table[i].ptr == NULL) {
            return -1;
        }
        i = (i + 1) & mask;
    }
    *size = table[i].size;
    /* backward shift: move later members of the probe run into the hole */
    size_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (table[j].ptr == NULL) {
            break;
        }
        size_t home = slot_of(table[j].ptr, mask);
        /* j may fill the hole unless its home lies cyclically in (hole, j] */
        int stays = (hole <= j) ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            table[hole] = table[j];
            hole = j;
        }
    }
    table[hole].ptr = NULL;
    table[hole].size = 0;
    occupied--;
    return 0;
}

/* --- the counts ------------------------------------------------------------------------------ */
static size_t live_bytes = 0, peak_bytes = 0;
static unsigned long long allocation_count = 0, free_count = 0, size_mismatches = 0, unknown_frees = 0;
static char lock = 0; /* the GIL covers NumPy's calls; this covers a build without one */

static void acquire(void) { while (__atomic_test_and_set(&lock, __ATOMIC_ACQUIRE)) { } }
static void release(void) { __atomic_clear(&lock, __ATOMIC_RELEASE); }

static void
added(size_t size)
{
    live_bytes += size;
    if (live_bytes > peak_bytes) {
        peak_bytes = live_bytes;
    }
}

/* --- the handler: the wrapped handler's functions, counted --------------------------------- */
static PyDataMemAllocator inner; /* NumPy's default functions, called by the counting ones */
static int is_installed = 0;

static void *
counted_malloc(void *ctx, size_t size)
{
    void *p = inner.malloc(inner.ctx, size);
    if (p == NULL) {
        return NULL;
    }
    acquire();
    int failed = table_insert(p, size);
    if (!failed) {
        allocation_count++;
        added(size);
    }
    release();
    if (failed) {
        inner.free(inner.ctx, p, size);
        return NULL;
    }
    return p;
}

static void *
counted_calloc(void *ctx, size_t nelem, size_t elsize)
{
    void *p = inner.calloc(inner.ctx, nelem, elsize);
    if (p == NULL) {
        return NULL;
    }
    size_t size = nelem * elsize;
    acquire();
    int failed = table_insert(p, size);
    if (!failed) {
        allocation_count++;
        added(size);
    }
    release();
    if (failed) {
        inner.free(inner.ctx, p, size);
        return NULL;
    }
    return p;
}

static void *
counted_realloc(void *ctx, void *ptr, size_t new_size)
{
    size_t old_size = 0;
    /* Make room first: once the inner realloc has moved the block, failing is not an option. */
    acquire();
    int room = (occupied + 1) * 2 <= capacity || table_grow() == 0;
    release();
    if (!room) {
        return NULL;
    }
    void *p = inner.realloc(inner.ctx, ptr, new_size);
    if (p == NULL) {
        return NULL; /* the old block is untouched and still counted */
    }
    acquire();
    if (ptr != NULL && table_remove(ptr, &old_size) == 0) {
        live_bytes -= old_size;
    }
    else if (ptr != NULL) {
        unknown_frees++;
    }
    table_insert(p, new_size); /* cannot fail: room was made above, and remove freed a slot */
    allocation_count++;
    added(new_size);
    release();
    return p;
}

static void
counted_free(void *ctx, void *ptr, size_t size)
{
    if (ptr != NULL) {
        size_t known = 0;
        acquire();
        if (table_remove(ptr, &known) == 0) {
            live_bytes -= known;
            free_count++;
            if (known != size) {
                size_mismatches++;
            }
        }
        else {
            unknown_frees++;
        }
        release();
    }
    inner.free(inner.ctx, ptr, size);
}

static PyDataMem_Handler counting_handler = {
    "graphmem_numpy_bytes",
    1,
    {NULL, counted_malloc, counted_calloc, counted_realloc, counted_free},
};

/* --- Python API ------------------------------------------------------------------------------ */
/* install() swaps the counting functions into NumPy's own default handler struct rather than
 * calling PyDataMem_SetHandler: setting the handler's context variable makes every later array
 * read a non-default context value, which on PyPy allocates (cpyext) and moved its collections.
 * So nothing NumPy or the interpreter does changes but the four function pointers. */
static PyDataMem_Handler *patched = NULL;

static PyObject *
install(PyObject *self, PyObject *unused)
{
    if (is_installed) {
        PyErr_SetString(PyExc_RuntimeError, "_numpy_bytes is already installed");
        return NULL;
    }
    PyObject *current = PyDataMem_GetHandler();
    if (current == NULL) {
        return NULL;
    }
    PyDataMem_Handler *handler = PyCapsule_GetPointer(current, "mem_handler");
    Py_DECREF(current); /* the default handler is a static of NumPy's: it outlives the capsule reference */
    if (handler == NULL) {
        return NULL;
    }
    if (patched == NULL) {
        if (strcmp(handler->name, "default_allocator") != 0) {
            PyErr_Format(PyExc_RuntimeError, "numpy's current data handler is %.100s, not its default_allocator: "
                         "_numpy_bytes counts only through the default", handler->name);
            return NULL;
        }
        inner = handler->allocator;
        patched = handler;
    }
    else if (handler != patched) {
        PyErr_SetString(PyExc_RuntimeError, "numpy's current data handler is not the one _numpy_bytes counts in");
        return NULL;
    }
    acquire();
    int no_table = capacity == 0 && table_grow() < 0;
    if (!no_table) {
        patched->allocator = counting_handler.allocator;
    }
    release();
    if (no_table) {
        return PyErr_NoMemory();
    }
    is_installed = 1;
    Py_RETURN_NONE;
}

static PyObject *
uninstall(PyObject *self, PyObject *unused)
{
    if (!is_installed) {
        PyErr_SetString(PyExc_RuntimeError, "_numpy_bytes is not installed");
        return NULL;
    }
    /* Arrays made while counting then free uncounted (numpy calls the struct's current free):
     * live() keeps their bytes; install() again before they go to count their frees. */
    acquire();
    patched->allocator = inner;
    release();
    is_installed = 0;
    Py_RETURN_NONE;
}

static PyObject *
installed(PyObject *self, PyObject *unused)
{
    return PyBool_FromLong(is_installed);
}

static PyObject *
live(PyObject *self, PyObject *unused)
{
    acquire();
    size_t value = live_bytes;
    release();
    return PyLong_FromSize_t(value);
}

static PyObject *
peak(PyObject *self, PyObject *unused)
{
    acquire();
    size_t value = peak_bytes;
    release();
    return PyLong_FromSize_t(value);
}

static PyObject *
reset_peak(PyObject *self, PyObject *unused)
{
    acquire();
    peak_bytes = live_bytes;
    release();
    Py_RETURN_NONE;
}

static PyObject *
allocations(PyObject *self, PyObject *unused)
{
    acquire();
    unsigned long long value = allocation_count;
    release();
    return PyLong_FromUnsignedLongLong(value);
}

static PyObject *
stats(PyObject *self, PyObject *unused)
{
    acquire();
    size_t l = live_bytes, p = peak_bytes, tracked = occupied;
    unsigned long long a = allocation_count, f = free_count, m = size_mismatches, u = unknown_frees;
    release();
    return Py_BuildValue("{s:n,s:n,s:K,s:K,s:K,s:K,s:n,s:O}", "live", (Py_ssize_t)l, "peak", (Py_ssize_t)p,
                         "allocations", a, "frees", f, "size_mismatches", m, "unknown_frees", u,
                         "blocks", (Py_ssize_t)tracked, "installed", is_installed ? Py_True : Py_False);
}

static PyMethodDef methods[] = {
    {"install", install, METH_NOARGS, "Count through numpy's default handler (its functions wrapped)."},
    {"uninstall", uninstall, METH_NOARGS, "Give numpy's default handler its own functions back."},
    {"installed", installed, METH_NOARGS, "Whether numpy's default handler counts now."},
    {"live", live, METH_NOARGS, "Bytes of array data allocated through the counter and not yet freed."},
    {"peak", peak, METH_NOARGS, "The highest live since the start or the last reset_peak()."},
    {"reset_peak", reset_peak, METH_NOARGS, "Sets the peak to the live bytes now."},
    {"allocations", allocations, METH_NOARGS, "Allocations (and reallocations) counted so far."},
    {"stats", stats, METH_NOARGS, "All counts as a dict (allocates: not inside a measured region)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_numpy_bytes",
    "Live bytes of NumPy array data and their exact peak, counted in C by a NEP 49 handler.", -1, methods,
};

PyMODINIT_FUNC
PyInit__numpy_bytes(void)
{
    import_array();
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    return m;
}

#ifndef C_CUDA_DRIVER_H
#define C_CUDA_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// One answer cuGetProcAddress can give: `symbol` asked for at CUDA version ≥ `version` (with the per-thread
/// default stream when `perThread`) is `function`.
typedef struct tessera_proc_entry {
    const char *symbol;
    int version;
    int perThread;
    void *function;
} tessera_proc_entry;

extern const tessera_proc_entry tessera_proc_entries[];
extern const int tessera_proc_entry_count;

// Implemented in Swift (the driver face).
/// Logs once that `name` is not supported and returns CUDA_ERROR_NOT_SUPPORTED.
int tessera_cu_unsupported(const char *name);
/// The primary context of `device`, not made current (CUDART_INTERFACE slot 2).
int tessera_cu_primary_context(void **context, int device);
/// What cuDriverGetVersion reports.
int tessera_cu_driver_version(void);
/// The number of devices, 0 when the session cannot be opened.
int tessera_cu_device_count(void);
/// UUID and PCI location of a device, as cuDeviceGetUuid and cuDeviceGetAttribute report them.
int tessera_cu_device_identity(int device, unsigned char uuid[16], int *domain, int *bus, int *slot);
/// Logs a diagnostic line when TESSERA_LOG=debug.
void tessera_cu_debug(const char *message);

// Implemented in C.
/// Runs and forgets the context-local storage of a context (primary context reset, context destroy).
void tessera_cls_context_destroyed(void *context);
/// Copies `count` bytes of this process's memory; the count copied, or -1 when some of it is not readable.
long tessera_copy_readable(void *destination, const void *source, size_t count);
/// MD2 (RFC 1319) of `length` bytes.
void tessera_md2(const void *data, size_t length, unsigned char digest[16]);

#endif

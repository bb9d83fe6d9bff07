#ifndef C_ALLOCATION_COUNTER_H
#define C_ALLOCATION_COUNTER_H
#include <stdint.h>

/// Heap allocations (`malloc`, `calloc`, `realloc`, `posix_memalign`, `aligned_alloc`,
/// `memalign`) made so far by the calling thread. The test binary's own definitions of
/// those functions stand in front of glibc's (ELF interposition) and count per thread;
/// every Swift allocation (objects, boxes, closure contexts, array/string buffers) goes
/// through one of them.
uint64_t pc_allocations_on_this_thread(void);

#endif

#ifndef C_PORTCULLIS_SEARCH_H
#define C_PORTCULLIS_SEARCH_H

// The C library's substring search over bytes (glibc's memmem: two-way with SIMD for
// short needles), for scrubbing secrets out of response bodies at memory speed. No system
// includes here (TOOLCHAIN-NOTES.md); the implementation is in the .c file.

/// The first occurrence of `needle` in `haystack`, or a null pointer.
const void *portcullis_memmem(const void *haystack, unsigned long haystack_length, const void *needle,
                              unsigned long needle_length);

#endif

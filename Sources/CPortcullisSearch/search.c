#define _GNU_SOURCE
#include <string.h>
#include "CPortcullisSearch.h"

const void *portcullis_memmem(const void *haystack, unsigned long haystack_length, const void *needle,
                              unsigned long needle_length) {
    return memmem(haystack, haystack_length, needle, needle_length);
}

/* Allocator workload for memory_livetest: a known sequence of libc allocator calls.
 *
 *   kernel_alloc_helper M   ->  M x malloc(4099 + 17*i), then M x free of those, then
 *                               2 x calloc(3, 1001), 1 x realloc(p, 70001) of a malloc(5003).
 * volatile pointers and -fno-builtin keep the compiler from eliding the pairs.
 */
#include <stdlib.h>

int main(int argc, char** argv) {
	int m = argc > 1 ? atoi(argv[1]) : 0;
	void* volatile* ptrs = calloc((size_t)m + 1, sizeof(void*)); /* also a calloc(m+1, 8) */
	for (int i = 0; i < m; i++)
		ptrs[i] = malloc(4099 + 17 * (size_t)i);
	for (int i = 0; i < m; i++)
		free(ptrs[i]);
	void* volatile a = calloc(3, 1001);
	void* volatile b = calloc(3, 1001);
	void* volatile c = malloc(5003);
	void* volatile d = realloc(c, 70001);
	free(a);
	free(b);
	free(d);
	free((void*)ptrs);
	return 0;
}

#include <stddef.h>
#include <stdint.h>

// libFuzzer's entry point for programs with a main of their own (SwiftPM gives every executable
// one), from the runtime that `-sanitize=fuzzer` links in.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

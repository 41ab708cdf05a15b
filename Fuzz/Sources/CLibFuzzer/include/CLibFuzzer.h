// libFuzzer's driver entry point (compiler-rt FuzzerInterface.h), linked by -sanitize=fuzzer.
//
// SwiftPM links a Linux executable with `--defsym main=<module>_main`, a symbol nothing defines
// under -parse-as-library, so libFuzzer's own main cannot be used: each fuzz target defines
// `<module>_main` itself and hands over to this driver (docs/fuzzing.md).
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

// Declarations only (include/sigil_sqlite.h); SwiftPM needs one source file in a C target.
#include "sigil_sqlite.h"

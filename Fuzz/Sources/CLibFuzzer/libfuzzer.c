// Declarations only (include/libfuzzer.h); SwiftPM wants a source file in every C target.

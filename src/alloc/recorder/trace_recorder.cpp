// libkeel-alloc-trace.so (LD_PRELOAD recorder); being written.

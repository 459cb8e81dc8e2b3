// keel::alloc mimalloc_resource (mimalloc arenas); being written.

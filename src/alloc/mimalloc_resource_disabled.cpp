// keel::alloc mimalloc_resource without mimalloc; being written.

#pragma once

/// keel::alloc: heaps over platform memory sources behind one concept (first, next,
/// best and worst fit, head-first best fit, TLSF, buddy, and an adaptive heap that
/// learns which placement policy to use), a growing heap with a hard cap, adapters
/// (std::pmr, STL allocator, thread-safe wrapper, switchable checks), a mimalloc
/// resource inside keel memory, and allocation traces: format, generators, replay
/// with Johnstone & Wilson fragmentation metrics.
#include <keel/alloc/adaptive_heap.hpp>
#include <keel/alloc/any_heap.hpp>
#include <keel/alloc/best_fit_heap.hpp>
#include <keel/alloc/buddy_heap.hpp>
#include <keel/alloc/checked_heap.hpp>
#include <keel/alloc/first_fit_heap.hpp>
#include <keel/alloc/growing_heap.hpp>
#include <keel/alloc/head_first_best_fit_heap.hpp>
#include <keel/alloc/heap.hpp>
#include <keel/alloc/heap_allocator.hpp>
#include <keel/alloc/heap_registry.hpp>
#include <keel/alloc/heap_resource.hpp>
#include <keel/alloc/mimalloc_resource.hpp>
#include <keel/alloc/next_fit_heap.hpp>
#include <keel/alloc/replay.hpp>
#include <keel/alloc/synchronized_heap.hpp>
#include <keel/alloc/tlsf_heap.hpp>
#include <keel/alloc/trace.hpp>
#include <keel/alloc/trace_generators.hpp>
#include <keel/alloc/worst_fit_heap.hpp>

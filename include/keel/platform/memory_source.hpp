#pragma once

#include <keel/platform/backend_status.hpp>
#include <keel/result.hpp>

#include <concepts>
#include <cstddef>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace keel::platform {

/// A contiguous range of mapped memory handed out by a memory source. A plain
/// descriptor: copying it does not copy or own the memory; give it back with the
/// source's unmap(), or hold it in a unique_region. `fd()` is the file descriptor
/// backing the mapping for shareable sources (memfd, posix_shm, file), -1 otherwise;
/// whether unmap() closes it is the source's to say (memfd and posix_shm close it,
/// file_memory keeps one fd for all its regions).
class memory_region {
public:
    constexpr memory_region() noexcept = default;
    constexpr memory_region(void* data, std::size_t size, int fd = -1) noexcept
        : _data(static_cast<std::byte*>(data)), _size(size), _fd(fd) {}

    [[nodiscard]] constexpr std::byte* data() const noexcept { return _data; }
    [[nodiscard]] constexpr std::size_t size() const noexcept { return _size; }
    [[nodiscard]] constexpr int fd() const noexcept { return _fd; }
    [[nodiscard]] constexpr std::byte* begin() const noexcept { return _data; }
    [[nodiscard]] constexpr std::byte* end() const noexcept { return _data + _size; }
    [[nodiscard]] constexpr bool empty() const noexcept { return _size == 0; }
    constexpr explicit operator bool() const noexcept { return _data != nullptr; }

    /// True when [p, p + n) lies inside the region.
    [[nodiscard]] bool contains(const void* p, std::size_t n = 1) const noexcept {
        auto* b = static_cast<const std::byte*>(p);
        return b >= _data && n <= _size && b <= _data + (_size - n);
    }

private:
    std::byte* _data = nullptr;
    std::size_t _size = 0;
    int _fd = -1;
};

/// Anything that maps and unmaps regions: a memory source, or the run-time choice
/// any_memory_source.
///  - map(n): n is rounded up to granularity(); n == 0 or a size the source cannot
///    serve is an error (errc::invalid_argument, or the kernel's errno: ENOMEM when a
///    hugetlb pool is empty). Never throws for environmental failures.
///  - unmap(r): gives back a region this source mapped; noexcept.
///  - granularity(): the unit mappings are rounded to (page or huge-page size).
template <class S>
concept region_mapper = requires(S& s, const S& cs, std::size_t n, memory_region r) {
    { s.map(n) } -> std::same_as<result<memory_region>>;
    { s.unmap(r) } noexcept;
    { cs.granularity() } noexcept -> std::same_as<std::size_t>;
};

/// A memory source backend: a region_mapper with a static name and a probe
/// (S::name, S::probe(): the backend's name and whether this machine offers it).
template <class S>
concept memory_source = region_mapper<S> && requires {
    { S::name } -> std::convertible_to<std::string_view>;
    { S::probe() } -> std::same_as<backend_status>;
};

/// Probes every memory source keel has, in order: anonymous, transparent_huge_pages,
/// hugetlb, memfd, posix_shm, numa, file. Thread-safe.
[[nodiscard]] std::vector<backend_status> probe_memory_sources();

/// Owns one region of a source and unmaps it on destruction. Move-only.
/// The source must outlive the unique_region.
template <region_mapper Source>
class unique_region {
public:
    unique_region() noexcept = default;
    unique_region(Source& source, memory_region region) noexcept
        : _source(&source), _region(region) {}
    unique_region(unique_region&& other) noexcept
        : _source(std::exchange(other._source, nullptr)), _region(std::exchange(other._region, {})) {}
    unique_region& operator=(unique_region&& other) noexcept {
        if (this != &other) {
            reset();
            _source = std::exchange(other._source, nullptr);
            _region = std::exchange(other._region, {});
        }
        return *this;
    }
    unique_region(const unique_region&) = delete;
    unique_region& operator=(const unique_region&) = delete;
    ~unique_region() { reset(); }

    [[nodiscard]] const memory_region& get() const noexcept { return _region; }
    const memory_region* operator->() const noexcept { return &_region; }
    explicit operator bool() const noexcept { return static_cast<bool>(_region); }

    /// Gives up ownership without unmapping.
    memory_region release() noexcept {
        _source = nullptr;
        return std::exchange(_region, {});
    }
    void reset() noexcept {
        if (_source && _region) _source->unmap(_region);
        _source = nullptr;
        _region = {};
    }

private:
    Source* _source = nullptr;
    memory_region _region;
};

/// Maps n bytes from `source` into a unique_region.
template <region_mapper Source>
[[nodiscard]] result<unique_region<Source>> map_unique(Source& source, std::size_t n) {
    auto r = source.map(n);
    if (!r) return r.error();
    return unique_region<Source>(source, *r);
}

/// A memory source chosen at run time (by probing or configuration): one virtual
/// call per map/unmap, which is small next to the mmap system call behind it.
/// It is a region_mapper (so unique_region and map_unique take it) but not a
/// memory_source: its name is per object and it has no probe of its own.
/// Thread-safety: as the wrapped source's.
class any_memory_source {
public:
    template <memory_source Source>
        requires(!std::same_as<std::remove_cvref_t<Source>, any_memory_source>)
    explicit any_memory_source(Source source)
        : _impl(std::make_unique<model<Source>>(std::move(source))) {}

    [[nodiscard]] result<memory_region> map(std::size_t n) { return _impl->map(n); }
    void unmap(memory_region r) noexcept { _impl->unmap(r); }
    [[nodiscard]] std::size_t granularity() const noexcept { return _impl->granularity(); }
    [[nodiscard]] std::string_view name() const noexcept { return _impl->name(); }

private:
    struct concept_t {
        virtual ~concept_t() = default;
        virtual result<memory_region> map(std::size_t n) = 0;
        virtual void unmap(memory_region r) noexcept = 0;
        virtual std::size_t granularity() const noexcept = 0;
        virtual std::string_view name() const noexcept = 0;
    };
    template <class Source>
    struct model final : concept_t {
        explicit model(Source s) : source(std::move(s)) {}
        result<memory_region> map(std::size_t n) override { return source.map(n); }
        void unmap(memory_region r) noexcept override { source.unmap(r); }
        std::size_t granularity() const noexcept override { return source.granularity(); }
        std::string_view name() const noexcept override { return Source::name; }
        Source source;
    };
    std::unique_ptr<concept_t> _impl;
};

}  // namespace keel::platform

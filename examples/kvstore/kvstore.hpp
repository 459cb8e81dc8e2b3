#pragma once

// A memcached-like in-memory key-value store in two front-ends over the same shards:
//
//   trust_store: each shard is entrusted to a trustee (keel::trust); get/set/erase are
//                closures sent to the shard's trustee, so shards need no lock.
//   mutex_store: each shard is guarded by its own std::mutex (the usual design).
//
// Plus what a load test needs: a zipf-skewed key generator (hot keys), the client loop
// both examples/kvstore/main.cpp and benchmarks/trust use, and a deterministic check
// that no set was lost. Keys and values are std::string; a shard is chosen by hashing
// the key.

#include <keel/trust.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace kvstore {

/// A stored value and how many sets have written this key (memcached's "cas unique").
struct entry {
    std::string value;
    std::uint64_t sets = 0;
};

/// One shard: a plain hash map. Not thread-safe; a front-end serialises access.
class shard {
public:
    [[nodiscard]] std::optional<std::string> get(const std::string& key) const {
        auto it = _map.find(key);
        if (it == _map.end()) return std::nullopt;
        return it->second.value;
    }
    [[nodiscard]] std::optional<entry> get_entry(const std::string& key) const {
        auto it = _map.find(key);
        if (it == _map.end()) return std::nullopt;
        return it->second;
    }
    void set(const std::string& key, std::string value) {
        entry& e = _map[key];
        e.value = std::move(value);
        ++e.sets;
    }
    bool erase(const std::string& key) { return _map.erase(key) != 0; }
    [[nodiscard]] std::size_t size() const noexcept { return _map.size(); }

private:
    std::unordered_map<std::string, entry> _map;
};

/// The shard a key lives in, for `shards` shards. Both front-ends use it.
inline std::size_t shard_of(const std::string& key, std::size_t shards) noexcept {
    return std::hash<std::string>{}(key) % shards;
}

/// Shards entrusted to the trustees of a keel::trust::runtime (round-robin), one
/// trustee serving all requests to a shard. Thread-safe; every call is one apply
/// round trip to the shard's trustee. The runtime must outlive the store.
class trust_store {
public:
    trust_store(keel::trust::runtime& rt, std::size_t shards) {
        if (shards == 0) throw std::invalid_argument("kvstore: at least one shard");
        _shards.reserve(shards);
        for (std::size_t i = 0; i < shards; ++i) _shards.push_back(rt.entrust<shard>());
    }

    [[nodiscard]] std::optional<std::string> get(const std::string& key) const {
        return at(key).apply([&key](shard& s) { return s.get(key); });
    }
    [[nodiscard]] std::optional<entry> get_entry(const std::string& key) const {
        return at(key).apply([&key](shard& s) { return s.get_entry(key); });
    }
    void set(const std::string& key, std::string value) const {
        at(key).apply([&key, v = std::move(value)](shard& s) mutable { s.set(key, std::move(v)); });
    }
    bool erase(const std::string& key) const {
        return at(key).apply([&key](shard& s) { return s.erase(key); });
    }

    /// Pipelined forms (apply_then): they return at once, and `then` runs later on the
    /// calling thread, inside keel::trust::poll/drain or its next apply. The key is
    /// captured by address: it must outlive the request (a keyspace's keys do).
    template <class Then>
    void get_then(const std::string& key, Then then) const {
        at(key).apply_then([k = &key](shard& s) { return s.get(*k); }, std::move(then));
    }
    void set_then(const std::string& key, std::string value) const {
        at(key).apply_then([k = &key, v = std::move(value)](shard& s) mutable { s.set(*k, std::move(v)); }, [] {});
    }

    /// Sets every key to `value_of(index)`, one request per shard.
    template <class ValueOf>
    void fill(const std::vector<std::string>& keys, ValueOf value_of) const {
        for (std::size_t i = 0; i < _shards.size(); ++i) {
            _shards[i].apply([&, i](shard& s) {
                for (std::size_t k = 0; k < keys.size(); ++k)
                    if (shard_of(keys[k], _shards.size()) == i) s.set(keys[k], value_of(k));
            });
        }
    }
    [[nodiscard]] std::size_t size() const {
        std::size_t n = 0;
        for (const auto& s : _shards) n += s.apply([](shard& x) { return x.size(); });
        return n;
    }
    static constexpr const char* name = "trust";

private:
    const keel::trust::trust<shard>& at(const std::string& key) const {
        return _shards[shard_of(key, _shards.size())];
    }
    std::vector<keel::trust::trust<shard>> _shards;
};

/// Shards each guarded by a std::mutex (padded to a cache line). Thread-safe.
class mutex_store {
public:
    explicit mutex_store(std::size_t shards) : _shards(shards) {
        if (shards == 0) throw std::invalid_argument("kvstore: at least one shard");
    }

    [[nodiscard]] std::optional<std::string> get(const std::string& key) const {
        auto& s = at(key);
        std::lock_guard lock(s.mutex);
        return s.data.get(key);
    }
    [[nodiscard]] std::optional<entry> get_entry(const std::string& key) const {
        auto& s = at(key);
        std::lock_guard lock(s.mutex);
        return s.data.get_entry(key);
    }
    void set(const std::string& key, std::string value) const {
        auto& s = at(key);
        std::lock_guard lock(s.mutex);
        s.data.set(key, std::move(value));
    }
    bool erase(const std::string& key) const {
        auto& s = at(key);
        std::lock_guard lock(s.mutex);
        return s.data.erase(key);
    }
    template <class ValueOf>
    void fill(const std::vector<std::string>& keys, ValueOf value_of) const {
        for (std::size_t k = 0; k < keys.size(); ++k) set(keys[k], value_of(k));
    }
    [[nodiscard]] std::size_t size() const {
        std::size_t n = 0;
        for (auto& s : _shards) {
            std::lock_guard lock(s.mutex);
            n += s.data.size();
        }
        return n;
    }
    static constexpr const char* name = "mutex";

private:
    struct alignas(64) guarded {
        std::mutex mutex;
        shard data;
    };
    guarded& at(const std::string& key) const { return _shards[shard_of(key, _shards.size())]; }
    mutable std::vector<guarded> _shards;
};

/// A small, fast PRNG (splitmix64) for the load generator; one per thread.
class rng {
public:
    explicit rng(std::uint64_t seed) noexcept : _state(seed) {}
    std::uint64_t next() noexcept {
        std::uint64_t z = (_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    /// Uniform in [0, 1).
    double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
    std::uint64_t _state;
};

/// Key ranks 0..n-1 drawn with P(rank r) proportional to 1/(r+1)^s: s = 0 is uniform,
/// s = 0.99 is the usual "hot key" skew (YCSB). Rank 0 is the hottest key. Immutable
/// after construction, so threads share one; a draw is a binary search over n doubles.
class zipf_distribution {
public:
    zipf_distribution(std::size_t n, double s) : _cdf(n) {
        if (n == 0) throw std::invalid_argument("kvstore: zipf over zero keys");
        if (!(s >= 0.0)) throw std::invalid_argument("kvstore: the zipf exponent must be >= 0");
        double sum = 0;
        for (std::size_t r = 0; r < n; ++r) _cdf[r] = (sum += std::pow(static_cast<double>(r + 1), -s));
        for (double& c : _cdf) c /= sum;
        _cdf.back() = 1.0;
    }
    std::size_t operator()(rng& g) const noexcept {
        const double u = g.uniform();
        return static_cast<std::size_t>(std::upper_bound(_cdf.begin(), _cdf.end(), u) - _cdf.begin());
    }
    /// The probability of rank r (for reports: how hot the hottest key is).
    [[nodiscard]] double probability(std::size_t r) const noexcept {
        return r == 0 ? _cdf[0] : _cdf[r] - _cdf[r - 1];
    }
    [[nodiscard]] std::size_t size() const noexcept { return _cdf.size(); }

private:
    std::vector<double> _cdf;
};

/// The keys ("key:<n>") and their popularity, shared by every client thread.
class keyspace {
public:
    keyspace(std::size_t n, double zipf_s) : _zipf(n, zipf_s) {
        _keys.reserve(n);
        // Scatter ranks over key names, so the hottest keys are not neighbours.
        for (std::size_t i = 0; i < n; ++i) _keys.push_back("key:" + std::to_string((i * 2654435761u) % n));
    }
    [[nodiscard]] const std::vector<std::string>& keys() const noexcept { return _keys; }
    [[nodiscard]] const zipf_distribution& zipf() const noexcept { return _zipf; }
    [[nodiscard]] std::size_t draw(rng& g) const noexcept { return _zipf(g); }

private:
    std::vector<std::string> _keys;
    zipf_distribution _zipf;
};

/// The value a writer stores: it starts with "<key>=" so a get can tell it belongs to
/// the key it asked for, then who wrote it and its sequence number.
inline std::string make_value(const std::string& key, unsigned writer, std::uint64_t seq) {
    char tail[48];
    const int n = std::snprintf(tail, sizeof tail, "=%u.%llu", writer, static_cast<unsigned long long>(seq));
    std::string v;
    v.reserve(key.size() + static_cast<std::size_t>(n));
    v.append(key).append(tail, static_cast<std::size_t>(n));
    return v;
}

/// True when `value` was written for `key` by make_value.
inline bool belongs_to(std::string_view value, std::string_view key) noexcept {
    return value.size() > key.size() && value.substr(0, key.size()) == key && value[key.size()] == '=';
}

/// What one client thread did.
struct client_counts {
    std::uint64_t ops = 0, gets = 0, hits = 0, sets = 0;
    std::uint64_t wrong = 0;  ///< gets that returned another key's value
    client_counts& operator+=(const client_counts& o) noexcept {
        ops += o.ops, gets += o.gets, hits += o.hits, sets += o.sets, wrong += o.wrong;
        return *this;
    }
};

/// How a client issues its operations: waiting for each, or pipelined through
/// trust_store's get_then/set_then (as a server thread with many connections would;
/// results are checked in the continuations, which run inside keel::trust::poll/drain).
struct waiting {};
struct pipelined {};

/// One load-generating client: each step draws a zipf key and does a get or (with
/// probability set_ratio) a set. Gets are checked to return a value of their key.
template <class Store, class Mode = waiting>
class client {
public:
    client(const Store& store, const keyspace& ks, double set_ratio, unsigned id, std::uint64_t seed)
        : _store(store), _ks(ks), _set_ratio(set_ratio), _id(id), _rng(seed) {}

    void step() {
        const std::string& key = _ks.keys()[_ks.draw(_rng)];
        ++counts.ops;
        if (_rng.uniform() < _set_ratio) {
            ++counts.sets;
            if constexpr (std::is_same_v<Mode, pipelined>)
                _store.set_then(key, make_value(key, _id, counts.sets));
            else
                _store.set(key, make_value(key, _id, counts.sets));
            return;
        }
        ++counts.gets;
        if constexpr (std::is_same_v<Mode, pipelined>)
            _store.get_then(key, [this, &key](std::optional<std::string> v) { check(key, v); });
        else
            check(key, _store.get(key));
    }

    client_counts counts;

private:
    void check(const std::string& key, const std::optional<std::string>& v) {
        if (!v) return;
        ++counts.hits;
        if (!belongs_to(*v, key)) ++counts.wrong;
    }

    const Store& _store;
    const keyspace& _ks;
    double _set_ratio;
    unsigned _id;
    rng _rng;
};

/// Fills every key with a value of its own (writer 0, sequence 0).
template <class Store>
void prefill(const Store& store, const keyspace& ks) {
    const auto& keys = ks.keys();
    store.fill(keys, [&keys](std::size_t k) { return make_value(keys[k], 0, 0); });
}

/// A deterministic check of a freshly prefilled store: `threads` clients each do `ops`
/// seeded operations at once, remembering per key how many sets they made and the
/// last value they wrote. Afterwards every key must have been set exactly
/// 1 + (sum of those sets) times, hold either its prefill value (no sets) or one of
/// the writers' last values, and no get may have returned another key's value.
/// Returns "" when all holds, else the first problem found.
template <class Store>
std::string verify(const Store& store, const keyspace& ks, unsigned threads, std::uint64_t ops,
                   double set_ratio) {
    struct seen {
        std::unordered_map<std::size_t, std::uint64_t> sets;
        std::unordered_map<std::size_t, std::string> last;
        std::uint64_t wrong = 0;
    };
    std::vector<seen> per(threads);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            rng g(1000 + t);
            auto& me = per[t];
            for (std::uint64_t i = 1; i <= ops; ++i) {
                const std::size_t k = ks.draw(g);
                const std::string& key = ks.keys()[k];
                if (g.uniform() < set_ratio) {
                    std::string v = make_value(key, t + 1, i);
                    me.last[k] = v;
                    ++me.sets[k];
                    store.set(key, std::move(v));
                } else if (auto v = store.get(key); !v || !belongs_to(*v, key)) {
                    ++me.wrong;
                }
            }
        });
    }
    for (auto& th : pool) th.join();
    for (unsigned t = 0; t < threads; ++t)
        if (per[t].wrong != 0) return std::to_string(per[t].wrong) + " gets missed or returned another key's value";
    for (std::size_t k = 0; k < ks.keys().size(); ++k) {
        const std::string& key = ks.keys()[k];
        std::uint64_t expected = 1;
        bool written = false;
        for (auto& p : per) {
            if (auto it = p.sets.find(k); it != p.sets.end()) expected += it->second, written = true;
        }
        auto e = store.get_entry(key);
        if (!e) return key + " is missing";
        if (e->sets != expected)
            return key + " was set " + std::to_string(e->sets) + " times, expected " + std::to_string(expected);
        bool known = !written && e->value == make_value(key, 0, 0);
        for (auto& p : per) {
            if (auto it = p.last.find(k); it != p.last.end() && it->second == e->value) known = true;
        }
        if (!known) return key + " holds \"" + e->value + "\", which no writer's last set wrote";
    }
    return {};
}

}  // namespace kvstore

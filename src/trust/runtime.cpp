#include "trustee.hpp"

#include <keel/platform/cpu.hpp>
#include <keel/platform/topology.hpp>
#include <keel/platform/wait_policy.hpp>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <future>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

namespace keel::trust {
namespace detail {
namespace {

thread_local trustee* tl_trustee = nullptr;

std::uint64_t now_ns() noexcept {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) noexcept {
    // Single writer: a load and a store, no locked instruction.
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

/// A client thread's channels: one table per runtime it has used, indexed by trustee.
struct client_table {
    std::shared_ptr<runtime_core> core;
    std::vector<channel*> channels;
};

class client_state {
public:
    ~client_state() {
        for (auto& table : _tables) leave(table);
    }

    channel*& slot(trustee& t) {
        if (_last == nullptr || _last->core.get() != &t.core) _last = &find(t.core);
        return _last->channels[t.index];
    }

    void for_each(auto&& fn) {
        for (auto& table : _tables)
            for (channel* ch : table.channels)
                if (ch != nullptr) fn(*ch);
    }

private:
    client_table& find(runtime_core& core) {
        for (auto& table : _tables)
            if (table.core.get() == &core) return table;
        prune();
        auto& table = _tables.emplace_back();
        table.core = core.shared_from_this();
        table.channels.assign(core.trustees.size(), nullptr);
        return table;
    }

    // Drops tables of runtimes that have stopped, so a long-lived thread that used many
    // runtimes does not keep them all.
    void prune() {
        _last = nullptr;
        std::erase_if(_tables, [this](client_table& table) {
            if (!table.core->stopped.load(std::memory_order_acquire)) return false;
            leave(table);
            return true;
        });
    }

    static void leave(client_table& table) noexcept {
        const bool stopped = table.core->stopped.load(std::memory_order_acquire);
        for (channel*& ch : table.channels) {
            if (ch == nullptr) continue;
            try {
                if (stopped)
                    ch->finish_completed();
                else
                    ch->drain();
            } catch (...) {
                // A continuation threw while the thread exits: nobody is left to catch it.
                std::terminate();
            }
            if (!stopped) ch->close();  // the trustee frees it; after stop the core does
            ch = nullptr;
        }
    }

    std::vector<client_table> _tables;
    client_table* _last = nullptr;
};

thread_local client_state tl_client;

}  // namespace

trustee* current_trustee() noexcept { return tl_trustee; }

// ---------------------------------------------------------------- channel

channel::channel(trustee* owner, trustee_doorbell* bell, std::uint32_t capacity,
                 std::uint32_t publish_batch, bool client_is_trustee, wait_budget budget)
    : _ring(static_cast<std::byte*>(::operator new(capacity, std::align_val_t{platform::cache_line_size}))),
      _capacity(capacity),
      _mask(capacity - 1),
      _publish_batch(client_is_trustee ? 1 : publish_batch),
      _client_is_trustee(client_is_trustee),
      _budget(budget),
      _bell(bell),
      _owner(owner) {}

channel::~channel() { ::operator delete(_ring, std::align_val_t{platform::cache_line_size}); }

void channel::make_room() {
    // The ring is full: everything in it is ours and unfinished. Hand it to the
    // trustee and finish at least one record.
    const std::uint32_t front = _reclaim_pos;
    std::uint32_t next = front + reinterpret_cast<record*>(_ring + (front & _mask))->size;
    wait_finished(next);
}

void channel::wait_finished(std::uint32_t end) {
    publish();
    trustee* self = tl_trustee;
    std::uint32_t rounds = 0;
    std::int64_t waiting_since = -1;  // read the clock only once spinning has gone on a while
    for (;;) {
        finish_completed();
        if (reached(_reclaim_pos, end)) break;
        ++rounds;
        if (self != nullptr) {
            // A trustee waiting on another keeps serving its own clients (no deadlock
            // when trustees call each other); it never parks, it is someone's server.
            if (self->serve_pass() == 0 && rounds % 64 == 0) ::sched_yield();
            continue;
        }
        if (rounds % 32 != 0) {
            platform::cpu_relax();
            continue;
        }
        const std::int64_t now = static_cast<std::int64_t>(now_ns());
        if (waiting_since < 0) waiting_since = now;
        const std::int64_t waited = now - waiting_since;
        if (waited < _budget.spin_ns) continue;
        if (waited < _budget.spin_ns + _budget.yield_ns) {
            ::sched_yield();
            continue;
        }
        const std::uint32_t seen = _consumed.load(std::memory_order_acquire);
        if (!reached(_reclaim_pos, seen)) continue;  // completions to finish first
        _client_parked.store(1, std::memory_order_relaxed);
        // Pairs with the trustee's barrier between publishing `consumed` and looking at
        // `_client_parked`: one of us sees the other's store.
        store_load_barrier();
        if (_consumed.load(std::memory_order_relaxed) == seen) platform::futex_wait{}.wait(_consumed, seen);
        _client_parked.store(0, std::memory_order_relaxed);
        waiting_since = -1;
    }
    if (_client_is_trustee) note_reclaimed();
}

std::uint32_t channel::serve(std::uint32_t burst) {
    if (_in_service) return 0;
    const std::uint32_t tail = _tail.load(std::memory_order_acquire);
    if (tail == _served) return 0;
    _in_service = true;
    std::uint32_t pos = _served;
    // Ask for the batch's lines at once: sequential misses on lines the client has just
    // written would otherwise be paid one after another (the prefetcher stops at pages).
    constexpr std::uint32_t prefetch_bytes = 2048;
    const std::uint32_t ahead = std::min<std::uint32_t>(tail - pos, prefetch_bytes);
    for (std::uint32_t at = platform::cache_line_size; at < ahead; at += platform::cache_line_size)
        __builtin_prefetch(_ring + ((pos + at) & _mask), 0, 3);
    std::uint32_t served = 0;
    while (pos != tail && served < burst) {
        auto* r = reinterpret_cast<record*>(_ring + (pos & _mask));
        const std::uint32_t size = r->size;
        if (r->run != nullptr) {
            r->run(r, record_op::serve, nullptr);
            ++served;
        }
        pos += size;
    }
    _served = pos;
    _consumed.store(pos, std::memory_order_release);
    _in_service = false;
    // Padding alone still counts as progress for the caller's pass.
    return served == 0 ? 1 : served;
}

void channel::wake_client_if_parked() noexcept {
    if (_client_parked.load(std::memory_order_relaxed) != 0) platform::futex_wait{}.wake_all(_consumed);
}

void wake_trustee(trustee_doorbell& bell) noexcept {
    if (bell.sleeping.exchange(0, std::memory_order_acq_rel) != 0) {
        bell.ring.fetch_add(1, std::memory_order_release);
        platform::futex_wait{}.wake_all(bell.ring);
    }
}

// ---------------------------------------------------------------- trustee

trustee::trustee(runtime_core& owner, unsigned i, std::optional<unsigned> pinned)
    : core(owner), index(i), cpu(pinned) {}

void trustee::start() {
    std::promise<void> ready;
    auto started = ready.get_future();
    _thread = std::thread([this, &ready] {
        tl_trustee = this;
        std::string name = "keel-trustee-" + std::to_string(index);
        ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
        if (cpu) {
            if (auto pinned = platform::pin_this_thread(*cpu); !pinned) {
                ready.set_exception(std::make_exception_ptr(std::system_error(
                    pinned.error(), "keel::trust: cannot pin trustee " + std::to_string(index) +
                                        " to CPU " + std::to_string(*cpu))));
                return;
            }
        }
        _last_idle_end = now_ns();
        _started_ns.store(_last_idle_end, std::memory_order_relaxed);
        ready.set_value();
        run();
    });
    try {
        started.get();
    } catch (...) {
        _thread.join();
        throw;
    }
}

void trustee::join() {
    if (_thread.joinable()) _thread.join();
}

void trustee::add_channel(channel* ch) {
    {
        std::lock_guard lock(_incoming_mutex);
        _incoming.push_back(ch);
    }
    _has_incoming.store(true, std::memory_order_release);
}

void trustee::take_new_channels() {
    std::lock_guard lock(_incoming_mutex);
    _channels.insert(_channels.end(), _incoming.begin(), _incoming.end());
    _incoming.clear();
    _has_incoming.store(false, std::memory_order_relaxed);
    _client_count.store(_channels.size(), std::memory_order_relaxed);
}

void trustee::reap_abandoned() {
    std::erase_if(_channels, [this](channel* ch) {
        if (!ch->abandoned()) return false;
        core.close_channel(ch);
        return true;
    });
    _client_count.store(_channels.size(), std::memory_order_relaxed);
}

std::uint32_t trustee::serve_pass() {
    if (_has_incoming.load(std::memory_order_acquire)) take_new_channels();
    const std::size_t n = _channels.size();
    if (n == 0) return 0;
    // Channels served in this pass, whose clients may be parked; woken after one fence.
    constexpr std::size_t max_touched = 64;
    channel* touched[max_touched];
    std::size_t touched_count = 0;
    std::uint32_t total = 0;
    const std::size_t start = _cursor++ % n;
    if (n > 1)
        for (channel* ch : _channels) ch->prefetch();
    for (std::size_t k = 0; k < n; ++k) {
        channel* ch = _channels[(start + k) % n];
        const std::uint32_t served = ch->serve(core.options.burst);
        if (served == 0) continue;
        total += served;
        bump(_batches);
        bump(_batch_sizes[std::min<std::size_t>(std::bit_width(served) - 1, 7)]);
        if (touched_count == max_touched) {
            store_load_barrier();
            for (std::size_t i = 0; i < touched_count; ++i) touched[i]->wake_client_if_parked();
            touched_count = 0;
        }
        touched[touched_count++] = ch;
    }
    if (touched_count != 0) {
        store_load_barrier();
        for (std::size_t i = 0; i < touched_count; ++i) touched[i]->wake_client_if_parked();
        bump(_served, total);
        if (_busy_from == 0) _busy_from = _last_idle_end;
    }
    return total;
}

void trustee::note_idle(std::uint64_t now) noexcept {
    // Busy time without reading the clock on busy passes: a run of working passes
    // started when the last idle pass ended, and ends at the next idle pass.
    if (_busy_from != 0) {
        bump(_busy_ns, now - _busy_from);
        _busy_from = 0;
    }
    _last_idle_end = now;
}

bool trustee::park() {
    bell.sleeping.store(1, std::memory_order_relaxed);
    // Pairs with the fence in channel::publish: a client either sees us asleep and
    // rings, or we see its tail in the pass below.
    store_load_barrier();
    const std::uint32_t ring = bell.ring.load(std::memory_order_acquire);
    if (serve_pass() != 0 || core.stop_requested.load(std::memory_order_acquire) ||
        (core.retire_requested.load(std::memory_order_acquire) && !_retired)) {
        bell.sleeping.store(0, std::memory_order_relaxed);
        return true;
    }
    bump(_parks);
    platform::futex_wait{}.wait(bell.ring, ring);
    bell.sleeping.store(0, std::memory_order_relaxed);
    return false;
}

void trustee::wake() noexcept {
    bell.sleeping.store(1, std::memory_order_relaxed);
    wake_trustee(bell);
}

void trustee::run() {
    std::uint32_t since_poll = 0;
    std::uint64_t idle_since = 0;  // 0: the last pass found work
    const auto spin_ns = static_cast<std::uint64_t>(core.options.idle_spin.count());
    const auto yield_ns = static_cast<std::uint64_t>(core.options.idle_yield.count());
    for (;;) {
        const bool worked = serve_pass() != 0;
        // A trustee is a client too (requests it sent while serving): run the
        // continuations that have come back.
        if (!worked || ++since_poll >= 64) {
            since_poll = 0;
            tl_client.for_each([](channel& ch) {
                if (!ch.idle()) {
                    ch.publish();
                    ch.finish_completed();
                    ch.note_reclaimed();
                }
            });
        }
        if (worked) {
            idle_since = 0;
            continue;
        }
        // Idle passes read the clock (nobody waits on an idle trustee); that also
        // closes the busy period the previous passes made.
        const std::uint64_t now = now_ns();
        note_idle(now);
        if (idle_since == 0) idle_since = now;
        if (core.retire_requested.load(std::memory_order_acquire) && !_retired) {
            retire_objects();
            continue;
        }
        if (core.stop_requested.load(std::memory_order_acquire)) break;
        if (_has_incoming.load(std::memory_order_relaxed) == false && (now - idle_since) > yield_ns) reap_abandoned();
        if (now - idle_since < spin_ns) {
            platform::cpu_relax();
            continue;
        }
        // A trustee with requests of its own still out must not sleep: nobody would wake
        // it to run their continuations (and shutdown waits for those).
        bool awaiting_replies = false;
        tl_client.for_each([&](channel& ch) { awaiting_replies = awaiting_replies || !ch.idle(); });
        if (awaiting_replies || now - idle_since < spin_ns + yield_ns) {
            ::sched_yield();
            continue;
        }
        park();
        idle_since = 0;
    }
    note_idle(now_ns());
    _stopped_ns.store(now_ns(), std::memory_order_relaxed);
}

void trustee::adopt(block_base& b) noexcept {
    b.prev = nullptr;
    b.next = _live;
    if (_live != nullptr) _live->prev = &b;
    _live = &b;
}

void trustee::forget(block_base& b) noexcept {
    if (b.prev != nullptr)
        b.prev->next = b.next;
    else
        _live = b.next;
    if (b.next != nullptr) b.next->prev = b.prev;
    b.prev = b.next = nullptr;
}

void trustee::retire_objects() noexcept {
    // Destructors may drop handles to objects here (destroyed inline) or elsewhere
    // (sent on): take one object at a time from the front.
    while (block_base* b = _live) {
        forget(*b);
        b->alive = false;
        b->destroy_object(b);
    }
    _retired = true;
    core.retired_trustees.fetch_add(1, std::memory_order_acq_rel);
}

trustee_stats trustee::stats() const {
    trustee_stats s;
    s.index = index;
    s.cpu = cpu;
    s.served = _served.load(std::memory_order_relaxed);
    s.batches = _batches.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < s.batch_sizes.size(); ++i)
        s.batch_sizes[i] = _batch_sizes[i].load(std::memory_order_relaxed);
    s.parks = _parks.load(std::memory_order_relaxed);
    s.clients = _client_count.load(std::memory_order_relaxed);
    s.busy = std::chrono::nanoseconds(_busy_ns.load(std::memory_order_relaxed));
    const std::uint64_t started = _started_ns.load(std::memory_order_relaxed);
    std::uint64_t stopped = _stopped_ns.load(std::memory_order_relaxed);
    if (stopped == 0) stopped = now_ns();
    s.lifetime = std::chrono::nanoseconds(started == 0 ? 0 : stopped - started);
    return s;
}

// ---------------------------------------------------------------- blocks

void block_base::destroy_on_trustee() noexcept {
    if (alive) {
        home->forget(*this);
        alive = false;
        destroy_object(this);
    }
    free_block(this);
}

void block_base::throw_retired() {
    throw runtime_stopped("keel::trust: the object was destroyed when its runtime shut down");
}

void adopt_block(block_base& b) noexcept { b.home->adopt(b); }

void release_block(block_base* b) noexcept {
    trustee& t = *b->home;
    if (tl_trustee == &t) {
        b->destroy_on_trustee();
        return;
    }
    channel* ch = channel_for_release(t);
    if (ch == nullptr) {
        // The runtime has stopped: shutdown destroyed the object already.
        b->free_block(b);
        return;
    }
    try {
        emplace_record<destroy_record>(*ch, b);
        ch->commit(true);
    } catch (...) {
        // Opening the channel or boxing cannot fail here (a destroy record is 32 bytes
        // and the channel exists); a failure would leak, never corrupt.
        std::terminate();
    }
}

// ---------------------------------------------------------------- client lookups

channel* channel_to(trustee& t) {
    if (tl_trustee == &t) return nullptr;
    channel*& ch = tl_client.slot(t);
    if (ch == nullptr) {
        ch = t.core.open_channel(t);
        return ch;
    }
    if (!t.core.accepting.load(std::memory_order_relaxed)) [[unlikely]] {
        // Shutting down: only the runtime's own trustees may still send requests.
        if (tl_trustee == nullptr || &tl_trustee->core != &t.core || t.core.stopped.load(std::memory_order_acquire))
            throw runtime_stopped("keel::trust: request after the runtime began to shut down");
    }
    return ch;
}

channel* channel_for_release(trustee& t) noexcept {
    if (t.core.stopped.load(std::memory_order_acquire)) return nullptr;
    try {
        channel*& ch = tl_client.slot(t);
        if (ch == nullptr) ch = t.core.open_channel(t, /*for_release=*/true);
        return ch;
    } catch (...) {
        std::terminate();
    }
}

bool on_trustee(const trustee& t) noexcept { return tl_trustee == &t; }
unsigned trustee_index(const trustee& t) noexcept { return t.index; }

// ---------------------------------------------------------------- runtime_core

runtime_core::runtime_core(runtime_options opts) : options(std::move(opts)) {
    if (options.trustees == 0) throw std::invalid_argument("keel::trust: a runtime needs at least one trustee");
    if (options.trustees > 4096)
        throw std::invalid_argument("keel::trust: " + std::to_string(options.trustees) +
                                    " trustees is more than the 4096 supported");
    if (!std::has_single_bit(options.channel_bytes) || options.channel_bytes < 4096 ||
        options.channel_bytes > (1u << 20))
        throw std::invalid_argument("keel::trust: channel_bytes must be a power of two from 4096 to 1048576, not " +
                                    std::to_string(options.channel_bytes));
    if (options.publish_batch == 0) throw std::invalid_argument("keel::trust: publish_batch must be at least 1");
    if (options.burst == 0) throw std::invalid_argument("keel::trust: burst must be at least 1");
    if (options.idle_spin.count() < 0 || options.idle_yield.count() < 0 || options.wait_spin.count() < 0 ||
        options.wait_yield.count() < 0)
        throw std::invalid_argument("keel::trust: spin and yield budgets cannot be negative");
    trustees.reserve(options.trustees);
    for (unsigned i = 0; i < options.trustees; ++i) {
        std::optional<unsigned> cpu;
        if (!options.cpus.empty()) cpu = options.cpus[i % options.cpus.size()];
        trustees.push_back(std::make_unique<trustee>(*this, i, cpu));
    }
}

runtime_core::~runtime_core() {
    for (channel* ch : _channels) delete ch;
}

void runtime_core::start() {
    std::size_t started = 0;
    try {
        for (auto& t : trustees) {
            t->start();
            ++started;
        }
    } catch (...) {
        // Stop the ones that did start; they have no channels yet.
        stop_requested.store(true, std::memory_order_release);
        for (std::size_t i = 0; i < started; ++i) {
            trustees[i]->wake();
            trustees[i]->join();
        }
        stopped.store(true, std::memory_order_release);
        throw;
    }
}

channel* runtime_core::open_channel(trustee& t, bool for_release) {
    const bool own_trustee = tl_trustee != nullptr && &tl_trustee->core == this;
    if (stopped.load(std::memory_order_acquire) ||
        (!for_release && !own_trustee && !accepting.load(std::memory_order_acquire)))
        throw runtime_stopped("keel::trust: request after the runtime began to shut down");
    // Any trustee as a client (of this runtime or another) publishes each request and
    // reports what it has finished: its run loop, not a user, polls for it.
    auto* ch = new channel(&t, &t.bell, options.channel_bytes, options.publish_batch, tl_trustee != nullptr,
                           {options.wait_spin.count(), options.wait_yield.count()});
    {
        std::lock_guard lock(_channels_mutex);
        _channels.push_back(ch);
        ++_channel_generation;
    }
    t.add_channel(ch);
    return ch;
}

void runtime_core::close_channel(channel* ch) noexcept {
    {
        std::lock_guard lock(_channels_mutex);
        std::erase(_channels, ch);
        ++_channel_generation;
    }
    delete ch;
}

bool runtime_core::quiet_snapshot(std::vector<channel::progress>& out) {
    out.clear();
    std::lock_guard lock(_channels_mutex);
    bool quiet = true;
    out.push_back({static_cast<std::uint32_t>(_channel_generation), 0, 0});
    for (channel* ch : _channels) {
        const auto p = ch->observe();
        out.push_back(p);
        if (p.tail != p.consumed || (ch->client_is_trustee() && p.reclaimed != p.consumed)) quiet = false;
    }
    return quiet;
}

void runtime_core::wait_quiescent() {
    // Only trustees send requests now. Two identical snapshots with every channel
    // empty mean a moment with no request anywhere, and then none can appear.
    std::vector<channel::progress> first;
    std::vector<channel::progress> second;
    for (;;) {
        if (quiet_snapshot(first)) {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
            if (quiet_snapshot(second) &&
                std::equal(first.begin(), first.end(), second.begin(), second.end(),
                           [](const channel::progress& a, const channel::progress& b) {
                               return a.tail == b.tail && a.consumed == b.consumed && a.reclaimed == b.reclaimed;
                           }))
                return;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
}

void runtime_core::shutdown() {
    if (tl_trustee != nullptr && &tl_trustee->core == this)
        throw std::logic_error("keel::trust: a runtime cannot be shut down from one of its own trustees");
    std::lock_guard lock(_shutdown_mutex);
    if (_shut_down) return;
    _shut_down = true;
    if (stopped.load(std::memory_order_acquire)) return;
    accepting.store(false, std::memory_order_release);
    // This thread may have gathered requests of its own: publish and finish them.
    tl_client.for_each([this](channel& ch) {
        if (&ch.owner()->core == this) ch.drain();
    });
    wait_quiescent();
    retire_requested.store(true, std::memory_order_release);
    for (auto& t : trustees) t->wake();
    while (retired_trustees.load(std::memory_order_acquire) != trustees.size()) {
        for (auto& t : trustees) t->wake();
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    wait_quiescent();
    stop_requested.store(true, std::memory_order_release);
    for (auto& t : trustees) t->wake();
    for (auto& t : trustees) t->join();
    stopped.store(true, std::memory_order_release);
}

}  // namespace detail

// ---------------------------------------------------------------- public API

runtime::runtime(runtime_options options) : _core(std::make_shared<detail::runtime_core>(std::move(options))) {
    _core->start();
}

runtime::~runtime() {
    try {
        shutdown();
    } catch (const std::logic_error&) {
        // Destroyed on its own trustee: joining would deadlock; this is a programming error.
        std::fputs("keel::trust: a runtime was destroyed on one of its own trustees\n", stderr);
        std::terminate();
    }
}

void runtime::shutdown() { _core->shutdown(); }

unsigned runtime::trustee_count() const noexcept { return static_cast<unsigned>(_core->trustees.size()); }

std::vector<trustee_stats> runtime::stats() const {
    std::vector<trustee_stats> out;
    out.reserve(_core->trustees.size());
    for (const auto& t : _core->trustees) out.push_back(t->stats());
    return out;
}

detail::trustee& runtime::next_trustee() {
    const unsigned i = _core->next.fetch_add(1, std::memory_order_relaxed);
    return *_core->trustees[i % _core->trustees.size()];
}

detail::trustee& runtime::trustee_at(unsigned index) {
    if (index >= _core->trustees.size())
        throw std::out_of_range("keel::trust: trustee " + std::to_string(index) + " of a runtime with " +
                                std::to_string(_core->trustees.size()));
    return *_core->trustees[index];
}

void poll() {
    detail::tl_client.for_each([](detail::channel& ch) {
        ch.publish();
        ch.finish_completed();
    });
}

void drain() {
    detail::tl_client.for_each([](detail::channel& ch) { ch.drain(); });
}

}  // namespace keel::trust

#pragma once

// Private to keel::trust: the trustee thread, the runtime that owns them, and the
// per-thread table of channels a client has opened.

#include <keel/trust/runtime.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace keel::trust::detail {

class runtime_core;

class trustee {
public:
    trustee(runtime_core& core, unsigned index, std::optional<unsigned> cpu);
    trustee(const trustee&) = delete;
    trustee& operator=(const trustee&) = delete;

    /// Starts the thread; throws std::system_error if it cannot start or be pinned.
    void start();
    void join();

    /// Any thread: hands a new channel to the trustee (it picks it up on its next pass).
    void add_channel(channel* ch);

    /// The trustee's thread: one pass over its channels; returns requests served.
    /// Re-entered by a trustee that waits for another trustee inside a request.
    std::uint32_t serve_pass();

    /// The trustee's thread: keeps an object on the list shutdown destroys.
    void adopt(block_base& b) noexcept;
    void forget(block_base& b) noexcept;

    [[nodiscard]] trustee_stats stats() const;
    void wake() noexcept;

    runtime_core& core;
    const unsigned index;
    const std::optional<unsigned> cpu;
    trustee_doorbell bell;

private:
    void run();
    void take_new_channels();
    void reap_abandoned();
    void retire_objects() noexcept;
    bool park();
    void note_idle(std::uint64_t now) noexcept;

    std::thread _thread;

    // Registration, from any thread.
    std::mutex _incoming_mutex;
    std::vector<channel*> _incoming;
    std::atomic<bool> _has_incoming{false};

    // The trustee thread's own state.
    std::vector<channel*> _channels;
    std::size_t _cursor = 0;
    block_base* _live = nullptr;
    std::uint64_t _busy_from = 0;      ///< start of the current run of working passes, or 0
    std::uint64_t _last_idle_end = 0;  ///< when the last idle pass ended
    bool _retired = false;

    // Counters: written by the trustee (relaxed stores), read by stats().
    std::atomic<std::uint64_t> _served{0};
    std::atomic<std::uint64_t> _batches{0};
    std::array<std::atomic<std::uint64_t>, 8> _batch_sizes{};
    std::atomic<std::uint64_t> _parks{0};
    std::atomic<std::uint64_t> _busy_ns{0};
    std::atomic<std::uint64_t> _started_ns{0};
    std::atomic<std::uint64_t> _stopped_ns{0};
    std::atomic<std::uint64_t> _client_count{0};
};

/// The shared state of one runtime: kept alive by the runtime, by object blocks and by
/// client threads' channel tables, so late handle drops and thread exits stay safe.
class runtime_core : public std::enable_shared_from_this<runtime_core> {
public:
    explicit runtime_core(runtime_options opts);
    ~runtime_core();

    /// Opens the calling thread's channel to t (registered for shutdown's bookkeeping).
    /// Throws runtime_stopped once shutdown has begun, except for this runtime's own
    /// trustees and for handle releases (until the trustees have stopped).
    channel* open_channel(trustee& t, bool for_release = false);
    /// A trustee frees a channel whose client thread has gone.
    void close_channel(channel* ch) noexcept;

    void start();
    void shutdown();

    const runtime_options options;
    std::vector<std::unique_ptr<trustee>> trustees;
    std::atomic<unsigned> next{0};

    std::atomic<bool> accepting{true};
    std::atomic<bool> retire_requested{false};
    std::atomic<unsigned> retired_trustees{0};
    std::atomic<bool> stop_requested{false};
    std::atomic<bool> stopped{false};

private:
    bool quiet_snapshot(std::vector<channel::progress>& out);
    void wait_quiescent();

    std::mutex _shutdown_mutex;
    bool _shut_down = false;
    std::mutex _channels_mutex;
    std::vector<channel*> _channels;  ///< every open channel, for the quiescence check
    std::uint64_t _channel_generation = 0;
};

/// The trustee running on the calling thread, if any.
trustee* current_trustee() noexcept;

}  // namespace keel::trust::detail

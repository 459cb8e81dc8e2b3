#include <keel/sync/testing/deterministic_schedule.hpp>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace keel::sync::testing {

namespace {

enum class run_state { runnable, blocked, timed_blocked, finished };

constexpr std::size_t nobody = SIZE_MAX;

}  // namespace

struct deterministic_schedule::state {
    struct thread {
        run_state state = run_state::runnable;
        const void* key = nullptr;
        std::condition_variable turn;  // signalled when this thread is picked
    };

    std::uint64_t seed;
    std::uint64_t rng;
    std::uint64_t max_steps;
    std::uint64_t steps = 0;
    std::uint64_t run_steps = 0;
    std::mutex mutex;
    std::vector<std::unique_ptr<thread>> threads;
    std::size_t current = nobody;

    state(std::uint64_t s, std::uint64_t max) : seed(s), rng(s), max_steps(max) {}

    // splitmix64: small, fast, and every seed (0 included) gives a good stream.
    std::uint64_t next_random() noexcept {
        std::uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

    [[noreturn]] void fail(const char* what) noexcept {
        std::fprintf(stderr,
                     "keel::sync::testing::deterministic_schedule: %s (seed %llu, step %llu); "
                     "rerun with this seed to reproduce\n",
                     what, static_cast<unsigned long long>(seed),
                     static_cast<unsigned long long>(steps));
        std::fflush(stderr);
        std::abort();
    }

    // Picks the next thread among the runnable and the timed-blocked ones (picking a
    // timed-blocked one times it out); reports a deadlock if only blocked ones remain.
    // Caller holds the mutex.
    void pick_next() noexcept {
        std::size_t candidates = 0;
        bool blocked = false;
        for (const auto& t : threads) {
            if (t->state == run_state::runnable || t->state == run_state::timed_blocked) ++candidates;
            if (t->state == run_state::blocked) blocked = true;
        }
        if (candidates == 0) {
            if (blocked) fail("deadlock: every live thread is blocked");
            current = nobody;
            return;
        }
        std::uint64_t k = next_random() % candidates;
        for (std::size_t i = 0; i < threads.size(); ++i) {
            const run_state s = threads[i]->state;
            if (s != run_state::runnable && s != run_state::timed_blocked) continue;
            if (k-- == 0) {
                current = i;
                threads[i]->turn.notify_one();
                return;
            }
        }
    }

    void wait_turn(std::unique_lock<std::mutex>& lock, std::size_t me) {
        threads[me]->turn.wait(lock, [&] { return current == me; });
    }
};

namespace {

thread_local deterministic_schedule::state* tl_state = nullptr;
thread_local std::size_t tl_index = 0;

}  // namespace

deterministic_schedule::deterministic_schedule(std::uint64_t seed, std::uint64_t max_steps)
    : _state(std::make_unique<state>(seed, max_steps)) {}

deterministic_schedule::~deterministic_schedule() = default;

std::uint64_t deterministic_schedule::seed() const noexcept { return _state->seed; }

std::uint64_t deterministic_schedule::steps() const noexcept {
    std::lock_guard<std::mutex> lock(_state->mutex);
    return _state->steps;
}

void deterministic_schedule::run(std::size_t n, const std::function<void(std::size_t)>& body) {
    if (n == 0) return;
    if (tl_state != nullptr) {
        throw std::logic_error("deterministic_schedule::run called from a scheduled thread");
    }
    state& s = *_state;
    {
        std::lock_guard<std::mutex> lock(s.mutex);
        s.threads.clear();
        for (std::size_t i = 0; i < n; ++i) s.threads.push_back(std::make_unique<state::thread>());
        s.run_steps = 0;
        s.current = nobody;
    }
    std::exception_ptr first_error;
    std::mutex error_mutex;
    std::vector<std::thread> workers;
    workers.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        workers.emplace_back([&s, &body, &first_error, &error_mutex, i] {
            tl_state = &s;
            tl_index = i;
            {
                std::unique_lock<std::mutex> lock(s.mutex);
                s.wait_turn(lock, i);
            }
            try {
                body(i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(error_mutex);
                if (!first_error) first_error = std::current_exception();
            }
            std::lock_guard<std::mutex> lock(s.mutex);
            s.threads[i]->state = run_state::finished;
            s.pick_next();
            tl_state = nullptr;
        });
    }
    {
        // Start only once every thread exists, so the first pick is the PRNG's alone.
        std::lock_guard<std::mutex> lock(s.mutex);
        s.pick_next();
    }
    for (auto& w : workers) w.join();
    if (first_error) std::rethrow_exception(first_error);
}

bool deterministic_schedule::active() noexcept { return tl_state != nullptr; }

void deterministic_schedule::point() noexcept {
    state* s = tl_state;
    if (s == nullptr) return;
    std::unique_lock<std::mutex> lock(s->mutex);
    ++s->steps;
    if (++s->run_steps > s->max_steps) {
        s->fail("step limit exceeded: livelock, or a thread spinning on a value nobody will change");
    }
    s->pick_next();
    s->wait_turn(lock, tl_index);
}

std::uint64_t deterministic_schedule::random(std::uint64_t bound) noexcept {
    state* s = tl_state;
    if (s == nullptr || bound == 0) return 0;
    std::lock_guard<std::mutex> lock(s->mutex);
    return s->next_random() % bound;
}

bool deterministic_schedule::block(const void* key, bool timed) noexcept {
    state* s = tl_state;
    if (s == nullptr) return true;
    std::unique_lock<std::mutex> lock(s->mutex);
    auto& me = *s->threads[tl_index];
    me.state = timed ? run_state::timed_blocked : run_state::blocked;
    me.key = key;
    ++s->steps;
    ++s->run_steps;
    s->pick_next();
    s->wait_turn(lock, tl_index);
    // Picked while still timed-blocked: the wait timed out. Otherwise a wake made us
    // runnable.
    const bool woken = me.state == run_state::runnable;
    me.state = run_state::runnable;
    me.key = nullptr;
    return woken;
}

void deterministic_schedule::wake(const void* key, std::size_t count) noexcept {
    state* s = tl_state;
    if (s == nullptr) return;
    std::lock_guard<std::mutex> lock(s->mutex);
    while (count > 0) {
        std::size_t waiting = 0;
        for (const auto& t : s->threads) {
            if ((t->state == run_state::blocked || t->state == run_state::timed_blocked) && t->key == key) {
                ++waiting;
            }
        }
        if (waiting == 0) return;
        std::uint64_t k = s->next_random() % waiting;
        for (auto& t : s->threads) {
            if ((t->state == run_state::blocked || t->state == run_state::timed_blocked) && t->key == key &&
                k-- == 0) {
                t->state = run_state::runnable;
                break;
            }
        }
        --count;
    }
}

}  // namespace keel::sync::testing

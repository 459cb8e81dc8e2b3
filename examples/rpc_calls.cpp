// Two processes calling each other through keel::rpc: the program forks a server (before
// it starts any thread), connects to it, and calls it by value and by pointer into the
// client's shared heap, in every safety mode this machine offers. Then it kills the server
// and shows that a call fails with errc::peer_dead instead of hanging.
#include <keel/rpc.hpp>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <stop_token>
#include <string>

namespace rpc = keel::rpc;

using add = rpc::method<"add", std::uint64_t(std::uint64_t, std::uint32_t)>;
using checksum = rpc::method<"checksum", std::uint64_t(rpc::shm_ptr<std::byte>, std::uint32_t)>;
using calc = rpc::service<"calc", add, checksum>;  // the schema hash is checked at connect

namespace {

std::uint64_t byte_sum(const std::byte* p, std::size_t n) {
    std::uint64_t s = 0;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<std::uint8_t>(p[i]) * (i + 1);
    return s;
}

[[noreturn]] void serve(const std::string& name) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the client
    try {
        rpc::server<calc> server(name, {.wait = rpc::wait_mode::hybrid});
        server.handle<add>([](std::uint64_t a, std::uint32_t b) { return a + b; });
        server.handle<checksum>([](rpc::call_context& ctx, rpc::shm_ptr<std::byte> p, std::uint32_t n) {
            auto bytes = ctx.resolve(p, n);  // checked: inside the caller's arena, aligned
            if (!bytes) throw std::runtime_error(bytes.error().message());  // -> handler_failed
            return byte_sum(*bytes, n);
        });
        server.run(std::stop_token{});  // serves until killed
    } catch (const std::exception& e) {
        std::fprintf(stderr, "server: %s\n", e.what());
    }
    std::_Exit(1);
}

}  // namespace

int main() {
    const std::string name = "@keel-example-calc-" + std::to_string(::getpid());  // '@': abstract socket
    const pid_t server = ::fork();
    if (server < 0) return std::perror("fork"), 1;
    if (server == 0) serve(name);

    auto client = rpc::client<calc>::connect(
        name, {.wait = rpc::wait_mode::hybrid, .wait_for_listener = true});
    if (!client) {
        std::fprintf(stderr, "connect: %s (%s)\n", client.error().message().c_str(), rpc::error_detail().c_str());
        ::kill(server, SIGKILL);
        return 1;
    }

    const keel::result<std::uint64_t> sum = client->call<add>(std::uint64_t{40}, 2u);
    std::printf("add(40, 2) = %llu\n", sum ? static_cast<unsigned long long>(*sum) : 0ULL);

    // One page in the client's own arena (only the client can write it; the server maps
    // it read-only), page-aligned so that the sealed mode can make it read-only for a call.
    constexpr std::uint32_t n = 4096;
    auto block = client->heap().allocate_sealable(n);
    if (!block) return std::fprintf(stderr, "no room in the shared heap\n"), 1;
    std::byte* bytes = *client->heap().resolve(*block, n);
    for (std::uint32_t i = 0; i < n; ++i) bytes[i] = static_cast<std::byte>(i * 7);
    const std::uint64_t expected = byte_sum(bytes, n);

    bool ok = sum && *sum == 42;
    for (auto mode : {rpc::safety_mode::relaxed, rpc::safety_mode::copy, rpc::safety_mode::sealed,
                      rpc::safety_mode::sandboxed}) {
        if (mode == rpc::safety_mode::sandboxed && !rpc::sandbox::probe().available) {
            std::printf("checksum, sandboxed: not here (%s)\n", rpc::sandbox::probe().reason.c_str());
            continue;
        }
        const auto t0 = std::chrono::steady_clock::now();
        auto r = client->call_with<checksum>({.safety = mode}, *block, n);
        const auto us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
        if (!r) {
            std::printf("checksum, %s: failed: %s (%s)\n", std::string(rpc::to_string(mode)).c_str(),
                        r.error().message().c_str(), rpc::error_detail().c_str());
            ok = false;
            continue;
        }
        std::printf("checksum, %s: %s (one call, %.1f µs)\n", std::string(rpc::to_string(mode)).c_str(),
                    *r == expected ? "correct" : "WRONG", us);
        ok = ok && *r == expected;
    }
    (void)client->heap().deallocate(*block);

    // A dead server: the call fails within client_options::peer_check_interval.
    ::kill(server, SIGKILL);
    ::waitpid(server, nullptr, 0);
    const auto t0 = std::chrono::steady_clock::now();
    auto late = client->call<add>(std::uint64_t{1}, 1u);
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const bool dead = !late && late.error() == rpc::errc::peer_dead;
    std::printf("after the server was killed: %s after %.1f ms\n",
                late ? "the call SUCCEEDED" : late.error().message().c_str(), ms);
    return ok && dead ? 0 : 1;
}

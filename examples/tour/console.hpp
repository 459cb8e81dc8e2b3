#pragma once
// keel-tour's terminal output: aligned tables, text plots, the progress line, and the
// gnuplot runner the HTML report shares.

#include "tour.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace keel_tour {

/// A number with about three significant digits ("1.23", "45.6", "7890").
[[nodiscard]] std::string format_number(double value);
/// A number with exactly `decimals` decimals ("12.50").
[[nodiscard]] std::string format_fixed(double value, int decimals);
/// A figure's ratio in words: "1.80x better", "1.25x worse", "n/a".
[[nodiscard]] std::string format_ratio(const figure& f);
/// The table drawn with aligned columns (UTF-8 aware), title first.
[[nodiscard]] std::string format_table(const table& t);

/// Runs gnuplot on `p` with the given terminal ("dumb size 78,20", "svg size 720,400 ...").
/// Returns gnuplot's output, or nullopt with `why` set when gnuplot is missing or fails.
[[nodiscard]] std::optional<std::string> run_gnuplot(const plot& p, std::string_view terminal,
                                                     std::string& why);
/// A plot as text: gnuplot's dumb terminal, or the series as a table when gnuplot is absent.
[[nodiscard]] std::string format_plot(const plot& p);

/// The progress display on stderr: one line redrawn in place (with the elapsed time) when
/// stderr is a terminal, one plain line per step otherwise.
class console_progress final : public progress {
public:
    console_progress();
    ~console_progress() override;
    console_progress(const console_progress&) = delete;
    console_progress& operator=(const console_progress&) = delete;

    /// A new section begins: `index` of `count`, shown before every step.
    void begin_section(int index, int count, std::string_view component);
    /// A phase outside the sections ("report"), shown as the prefix instead.
    void begin_phase(std::string_view name);
    void step(std::string_view what) override;
    /// Writes `text` to stdout, first erasing the progress line so the two never mix.
    void print(std::string_view text);
    /// Erases the progress line and stops redrawing it.
    void finish();
    [[nodiscard]] double elapsed_seconds() const;

private:
    void redraw_locked();
    void erase_locked();
    void tick();

    const bool tty_;
    const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::string prefix_;
    std::string step_;
    bool line_shown_ = false;
    bool stopping_ = false;
    std::thread ticker_;  // redraws the elapsed time on a terminal; last member: starts last
};

}  // namespace keel_tour

// keel-tour's terminal output. See console.hpp.
#include "console.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

namespace keel_tour {

namespace {

// Columns a UTF-8 string occupies: code points, not bytes (µ, ×, — are one column each).
std::size_t display_width(std::string_view s) {
    return static_cast<std::size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string pad(std::string_view s, std::size_t width, bool right_align) {
    std::string fill(width - std::min(width, display_width(s)), ' ');
    return right_align ? fill + std::string(s) : std::string(s) + fill;
}

// A cell that reads as a number ("1.5", "-3", "12.0x better", "98 %") aligns right.
bool looks_numeric(std::string_view s) {
    return !s.empty() && (std::isdigit(static_cast<unsigned char>(s.front())) != 0 ||
                          ((s.front() == '-' || s.front() == '+') && s.size() > 1 &&
                           std::isdigit(static_cast<unsigned char>(s[1])) != 0));
}

// A gnuplot single-quoted string: only the quote itself needs escaping (doubled).
std::string gnuplot_quote(std::string_view s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += '\'';
        if (c == '\n') {
            out += ' ';
            continue;
        }
        out += c;
    }
    return out + "'";
}

std::optional<std::filesystem::path> find_in_path(std::string_view program) {
    const char* path = std::getenv("PATH");
    if (path == nullptr) return std::nullopt;
    std::string_view rest(path);
    while (!rest.empty()) {
        auto colon = rest.find(':');
        std::string_view dir = rest.substr(0, colon);
        rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
        if (dir.empty()) continue;
        auto candidate = std::filesystem::path(dir) / program;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return std::nullopt;
}

std::string read_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// A temporary file that is removed when it goes out of scope.
class temp_file {
public:
    explicit temp_file(std::string_view stem) {
        auto pattern = (std::filesystem::temp_directory_path() / stem).string() + ".XXXXXX";
        int fd = ::mkstemp(pattern.data());
        if (fd < 0) throw std::system_error(errno, std::generic_category(), "mkstemp " + pattern);
        ::close(fd);
        path_ = pattern;
    }
    ~temp_file() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

std::string gnuplot_script(const plot& p, std::string_view terminal) {
    std::ostringstream script;
    script.precision(10);
    script << "set terminal " << terminal << "\n";
    script << "set title " << gnuplot_quote(p.title) << "\n";
    script << "set xlabel " << gnuplot_quote(p.x_label) << "\n";
    script << "set ylabel " << gnuplot_quote(p.y_label) << "\n";
    if (p.log_x) script << "set logscale x\n";
    if (p.log_y) script << "set logscale y\n";
    script << "set key below\nset grid\n";
    for (std::size_t i = 0; i < p.lines.size(); ++i) {
        script << "$series" << i << " << EOD\n";
        const auto& s = p.lines[i];
        for (std::size_t j = 0; j < std::min(s.x.size(), s.y.size()); ++j) {
            // gnuplot reads NaN as a missing point.
            auto value = [](double v) { return std::isfinite(v) ? v : std::nan(""); };
            script << value(s.x[j]) << ' ' << value(s.y[j]) << "\n";
        }
        script << "EOD\n";
    }
    script << "plot ";
    for (std::size_t i = 0; i < p.lines.size(); ++i) {
        if (i > 0) script << ", ";
        script << "$series" << i << " using 1:2 with linespoints title "
               << gnuplot_quote(p.lines[i].name);
    }
    script << "\n";
    return script.str();
}

int terminal_columns() {
    winsize size{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    return 80;
}

}  // namespace

std::string format_number(double value) {
    if (!std::isfinite(value)) return "n/a";
    char text[32];
    double magnitude = std::fabs(value);
    // Counts (faults, sets) print as integers; measured rates keep three digits.
    if (magnitude >= 100 || value == std::floor(value)) {
        std::snprintf(text, sizeof text, "%.0f", value);
    } else if (magnitude >= 10) {
        std::snprintf(text, sizeof text, "%.1f", value);
    } else if (magnitude >= 1) {
        std::snprintf(text, sizeof text, "%.2f", value);
    } else {
        std::snprintf(text, sizeof text, "%.3g", value);
    }
    return text;
}

std::string format_fixed(double value, int decimals) {
    char text[48];
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    return text;
}

std::string format_ratio(const figure& f) {
    double r = f.ratio();
    if (r <= 0 || !std::isfinite(r)) return "n/a";
    char text[48];
    if (r >= 1) {
        std::snprintf(text, sizeof text, "%.2fx better", r);
    } else {
        std::snprintf(text, sizeof text, "%.2fx worse", 1 / r);
    }
    return text;
}

std::string format_table(const table& t) {
    std::vector<std::size_t> widths(t.header.size(), 0);
    std::vector<bool> numeric(t.header.size(), true);
    for (std::size_t c = 0; c < t.header.size(); ++c)
        widths[c] = display_width(t.header[c]);
    for (const auto& row : t.rows) {
        for (std::size_t c = 0; c < std::min(row.size(), widths.size()); ++c) {
            widths[c] = std::max(widths[c], display_width(row[c]));
            if (!row[c].empty() && !looks_numeric(row[c])) numeric[c] = false;
        }
    }
    std::string out;
    if (!t.title.empty()) out += t.title + "\n";
    auto line = [&](const std::vector<std::string>& cells, bool header) {
        std::string text = " ";
        for (std::size_t c = 0; c < widths.size(); ++c) {
            std::string_view cell =
                c < cells.size() ? std::string_view(cells[c]) : std::string_view{};
            text += ' ' + pad(cell, widths[c], numeric[c] && !header && c > 0);
            if (c + 1 < widths.size()) text += " │";
        }
        while (!text.empty() && text.back() == ' ')
            text.pop_back();
        out += text + "\n";
    };
    line(t.header, true);
    std::string rule = " ";
    for (std::size_t c = 0; c < widths.size(); ++c) {
        for (std::size_t i = 0; i < widths[c] + 2; ++i)
            rule += "─";
        if (c + 1 < widths.size()) rule += "┼";
    }
    out += rule + "\n";
    for (const auto& row : t.rows)
        line(row, false);
    return out;
}

std::optional<std::string> run_gnuplot(const plot& p, std::string_view terminal, std::string& why) {
    auto gnuplot = find_in_path("gnuplot");
    if (!gnuplot) {
        why = "gnuplot is not installed";
        return std::nullopt;
    }
    temp_file script("keel-tour-plot");
    temp_file output("keel-tour-plot-out");
    temp_file errors("keel-tour-plot-err");
    {
        std::ofstream out(script.path());
        out << gnuplot_script(p, terminal);
        out << "set output\n";
    }
    std::string command = "'" + gnuplot->string() + "' '" + script.path().string() + "' >'" +
                          output.path().string() + "' 2>'" + errors.path().string() + "'";
    int status = std::system(command.c_str());
    if (status != 0) {
        why = "gnuplot failed: " + read_file(errors.path());
        while (!why.empty() && why.back() == '\n')
            why.pop_back();
        return std::nullopt;
    }
    return read_file(output.path());
}

std::string format_plot(const plot& p) {
    std::string why;
    if (auto text = run_gnuplot(p, "dumb size 100,24 noenhanced", why)) {
        // The dumb terminal starts with a form feed; drop it.
        if (!text->empty() && text->front() == '\f') text->erase(0, 1);
        return *text;
    }
    // Without gnuplot the points themselves, one table per series.
    std::string out = p.title + " (" + why + "; the points instead)\n";
    for (const auto& s : p.lines) {
        table t{s.name, {p.x_label, p.y_label}, {}};
        for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
            t.rows.push_back({format_number(s.x[i]), format_number(s.y[i])});
        }
        out += format_table(t);
    }
    return out;
}

console_progress::console_progress()
    : tty_(::isatty(STDERR_FILENO) != 0), ticker_([this] { tick(); }) {}

console_progress::~console_progress() {
    finish();
}

void console_progress::begin_section(int index, int count, std::string_view component) {
    std::lock_guard lock(mutex_);
    prefix_ = "[" + std::to_string(index) + "/" + std::to_string(count) + " " +
              std::string(component) + "]";
    step_ = "starting";
    redraw_locked();
}

void console_progress::begin_phase(std::string_view name) {
    std::lock_guard lock(mutex_);
    prefix_ = "[" + std::string(name) + "]";
    step_.clear();
    redraw_locked();
}

void console_progress::step(std::string_view what) {
    std::lock_guard lock(mutex_);
    step_ = what;
    if (tty_) {
        redraw_locked();
    } else {
        std::fprintf(stderr, "%s %s (%.1f s)\n", prefix_.c_str(), step_.c_str(), elapsed_seconds());
        std::fflush(stderr);
    }
}

void console_progress::print(std::string_view text) {
    std::lock_guard lock(mutex_);
    erase_locked();
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    if (!stopping_) redraw_locked();
}

void console_progress::finish() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
        erase_locked();
    }
    wake_.notify_all();
    if (ticker_.joinable()) ticker_.join();
}

double console_progress::elapsed_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void console_progress::redraw_locked() {
    if (!tty_ || prefix_.empty()) return;
    char elapsed[32];
    std::snprintf(elapsed, sizeof elapsed, "%6.1f s ", elapsed_seconds());
    std::string text = std::string(elapsed) + prefix_ + " " + step_ + " …";
    // Never wrap: a wrapped line cannot be redrawn in place.
    auto columns = static_cast<std::size_t>(std::max(terminal_columns() - 1, 10));
    if (display_width(text) > columns) {
        std::string cut;
        std::size_t width = 0;
        for (char c : text) {
            bool starts_code_point = (static_cast<unsigned char>(c) & 0xC0) != 0x80;
            if (starts_code_point && ++width > columns) break;
            cut += c;
        }
        text = cut;
    }
    std::fprintf(stderr, "\r\033[K%s", text.c_str());
    std::fflush(stderr);
    line_shown_ = true;
}

void console_progress::erase_locked() {
    if (!line_shown_) return;
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    line_shown_ = false;
}

void console_progress::tick() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        wake_.wait_for(lock, std::chrono::milliseconds(250));
        if (!stopping_ && line_shown_) redraw_locked();
    }
}

}  // namespace keel_tour

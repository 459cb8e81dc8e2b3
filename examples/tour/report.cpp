// keel-tour's HTML report. See report.hpp.
#include "report.hpp"

#include "console.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace keel_tour {

namespace {

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string json_escape(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20) {
            char code[8];
            std::snprintf(code, sizeof code, "\\u%04x", byte);
            out += code;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string json_number(double v) {
    if (!std::isfinite(v)) return "null";
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", v);
    return text;
}

std::string base64(std::string_view data) {
    static constexpr char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        auto n = static_cast<unsigned>(static_cast<unsigned char>(data[i])) << 16 |
                 static_cast<unsigned>(static_cast<unsigned char>(data[i + 1])) << 8 |
                 static_cast<unsigned>(static_cast<unsigned char>(data[i + 2]));
        out += digits[n >> 18 & 63];
        out += digits[n >> 12 & 63];
        out += digits[n >> 6 & 63];
        out += digits[n & 63];
    }
    if (i < data.size()) {
        auto n = static_cast<unsigned>(static_cast<unsigned char>(data[i])) << 16;
        if (i + 1 < data.size())
            n |= static_cast<unsigned>(static_cast<unsigned char>(data[i + 1])) << 8;
        out += digits[n >> 18 & 63];
        out += digits[n >> 12 & 63];
        out += i + 1 < data.size() ? digits[n >> 6 & 63] : '=';
        out += '=';
    }
    return out;
}

// What the page holds, counted while it is written; tour.json and the page declare it.
struct page_counts {
    int tables = 0;
    int images = 0;
};

void write_table(std::ostream& html, const table& t, page_counts& counts) {
    ++counts.tables;
    html << "<table>\n";
    if (!t.title.empty()) html << "<caption>" << html_escape(t.title) << "</caption>\n";
    html << "<thead><tr>";
    for (const auto& h : t.header)
        html << "<th>" << html_escape(h) << "</th>";
    html << "</tr></thead>\n<tbody>\n";
    for (const auto& row : t.rows) {
        html << "<tr>";
        for (const auto& cell : row)
            html << "<td>" << html_escape(cell) << "</td>";
        html << "</tr>\n";
    }
    html << "</tbody></table>\n";
}

void write_plot(std::ostream& html, const plot& p, page_counts& counts) {
    std::string why;
    auto svg = run_gnuplot(
        p, "svg size 760,420 fixed noenhanced font 'sans,12' background '#ffffff'", why);
    if (svg) {
        ++counts.images;
        html << "<figure><img alt=\"" << html_escape(p.title)
             << "\" width=\"760\" height=\"420\" src=\"data:image/svg+xml;base64," << base64(*svg)
             << "\"><figcaption>" << html_escape(p.title) << "</figcaption></figure>\n";
        return;
    }
    html << "<p class=\"note\">" << html_escape(p.title) << ": no plot (" << html_escape(why)
         << "); the points instead.</p>\n";
    for (const auto& s : p.lines) {
        table points{s.name, {p.x_label, p.y_label}, {}};
        for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
            points.rows.push_back({format_number(s.x[i]), format_number(s.y[i])});
        }
        write_table(html, points, counts);
    }
}

constexpr std::string_view page_style = R"(
body { font-family: sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.3em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f0f0f0; }
td:not(:first-child) { font-variant-numeric: tabular-nums; }
pre { background: #f7f7f7; padding: 0.6em; white-space: pre-wrap; }
.failed { color: #a00; font-weight: bold; }
.note { color: #666; }
figure { margin: 1em 0; } figcaption { color: #666; font-size: 0.9em; }
)";

// Runs on load: counts what the browser actually rendered, for tests/tour's check.
constexpr std::string_view render_check_script = R"(
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var rendered = images.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  var out = document.getElementById('render-check');
  out.setAttribute('data-tables', String(document.querySelectorAll('table').length));
  out.setAttribute('data-images', String(images.length));
  out.setAttribute('data-rendered-images', String(rendered.length));
  out.textContent = 'Rendered ' + rendered.length + ' of ' + images.length + ' plots and ' +
    document.querySelectorAll('table').length + ' tables.';
});
)";

}  // namespace

table summary_table(const std::vector<section_outcome>& outcomes) {
    table t{"", {"component", "what", "keel", "baseline", "ratio"}, {}};
    for (const auto& o : outcomes) {
        if (!o.result.ok) {
            t.rows.push_back({o.component, "FAILED: " + o.result.error, "", "", ""});
            continue;
        }
        for (const auto& f : o.result.summary) {
            auto cell = [&](const std::string& label, double value) {
                return format_number(value) + " " + f.unit + " (" + label + ")";
            };
            t.rows.push_back({o.component, f.what, cell(f.keel_label, f.keel),
                              cell(f.baseline_label, f.baseline), format_ratio(f)});
        }
    }
    return t;
}

void write_report(const std::filesystem::path& dir, const std::vector<section_outcome>& outcomes,
                  const table& summary, const run_facts& facts) {
    std::filesystem::create_directories(dir);
    page_counts counts;
    std::ostringstream body;
    char run_line[256];
    std::snprintf(run_line, sizeof run_line, "Scale %s, %s, %.1f s in all.",
                  format_number(facts.scale).c_str(), facts.machine.c_str(), facts.seconds);
    body << "<h1>keel-tour</h1>\n<p>What keel does and what it buys, component by component: "
            "every figure was measured in this run, keel next to the baseline a program would "
            "otherwise use. "
         << html_escape(run_line) << "</p>\n";
    body << "<h2>Summary</h2>\n";
    write_table(body, summary, counts);
    for (const auto& o : outcomes) {
        char heading[64];
        std::snprintf(heading, sizeof heading, " (%.1f s)", o.seconds);
        body << "<h2 id=\"" << html_escape(o.component) << "\">" << html_escape(o.component) << ": "
             << html_escape(o.title) << heading << "</h2>\n";
        if (!o.result.ok) {
            body << "<p class=\"failed\">Section failed: " << html_escape(o.result.error)
                 << "</p>\n";
        }
        if (!o.result.lines.empty()) {
            body << "<pre>";
            for (const auto& line : o.result.lines)
                body << html_escape(line) << "\n";
            body << "</pre>\n";
        }
        for (const auto& t : o.result.tables)
            write_table(body, t, counts);
        for (const auto& p : o.result.plots)
            write_plot(body, p, counts);
    }

    std::ofstream html(dir / "index.html", std::ios::binary);
    html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         << "<title>keel-tour report</title>\n<style>" << page_style << "</style>\n"
         << "<script>" << render_check_script << "</script>\n</head>\n"
         << "<body data-expected-tables=\"" << counts.tables << "\" data-expected-images=\""
         << counts.images << "\">\n"
         << body.str() << "<p id=\"render-check\" class=\"note\"></p>\n</body>\n</html>\n";
    html.close();
    if (!html) throw std::runtime_error("cannot write " + (dir / "index.html").string());

    std::ofstream json(dir / "tour.json", std::ios::binary);
    json << "{\n  \"scale\": " << json_number(facts.scale)
         << ",\n  \"seconds\": " << json_number(facts.seconds)
         << ",\n  \"tables\": " << counts.tables << ",\n  \"images\": " << counts.images
         << ",\n  \"sections\": [";
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        const auto& o = outcomes[i];
        json << (i ? "," : "") << "\n    {\"component\": " << json_escape(o.component)
             << ", \"ok\": " << (o.result.ok ? "true" : "false")
             << ", \"error\": " << json_escape(o.result.error)
             << ", \"seconds\": " << json_number(o.seconds) << ", \"summary\": [";
        for (std::size_t j = 0; j < o.result.summary.size(); ++j) {
            const auto& f = o.result.summary[j];
            json << (j ? ", " : "") << "{\"what\": " << json_escape(f.what)
                 << ", \"unit\": " << json_escape(f.unit) << ", \"keel\": " << json_number(f.keel)
                 << ", \"keel_label\": " << json_escape(f.keel_label)
                 << ", \"baseline\": " << json_number(f.baseline)
                 << ", \"baseline_label\": " << json_escape(f.baseline_label)
                 << ", \"ratio\": " << json_number(f.ratio()) << "}";
        }
        json << "]}";
    }
    json << "\n  ]\n}\n";
    json.close();
    if (!json) throw std::runtime_error("cannot write " + (dir / "tour.json").string());
}

}  // namespace keel_tour

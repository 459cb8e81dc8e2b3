"""Comparison plots with gnuplot: line plots (a value against a numeric x) and clustered
bars (a value per category), each as a grid of panels in one image. Every plot keeps its
gnuplot script (<name>.gp, data inline) next to the image, so it can be redrawn by hand."""
import math
import shutil
import subprocess

# One colour per series name across every panel of a plot (gnuplot's own cycle has 8).
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf", "#000000", "#aec7e8", "#98df8a", "#ff9896"]
PANEL_W, PANEL_H = 600, 440


def gnuplot_path():
    path = shutil.which("gnuplot")
    if path is None:
        raise RuntimeError("gnuplot not found: install Debian's gnuplot-nox (scripts/install-deps)")
    return path


def terminal():
    """(terminal, file extension): PNG through cairo where this gnuplot has it, else SVG."""
    probe = subprocess.run([gnuplot_path(), "-e", "set terminal pngcairo"], capture_output=True, text=True)
    if probe.returncode == 0 and not probe.stderr.strip():
        return "pngcairo", ".png"
    return "svg", ".svg"


def quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def number(v):
    return "?" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(float(v))


class Figure:
    def __init__(self, title, panels):
        self.cols = min(3, panels)
        self.rows = math.ceil(panels / self.cols)
        self.lines = [
            "set termoption noenhanced",  # names hold underscores, not subscripts
            "set datafile missing '?'",
            "set grid",
            "set format y '%g'",
            f"set multiplot layout {self.rows},{self.cols} title {quote(title)} font ',13'",
        ]
        self.colours = {}

    def colour(self, series):
        if series not in self.colours:
            self.colours[series] = COLOURS[len(self.colours) % len(COLOURS)]
        return self.colours[series]

    def datablock(self, name, rows):
        self.lines.append(f"${name} << EOD")
        self.lines.extend(" ".join(row) for row in rows)
        self.lines.append("EOD")

    def panel(self, title, xlabel, ylabel, logy):
        """Starts the next panel: the settings of the one before are undone."""
        self.lines += ["unset logscale", "set xrange [*:*]; set yrange [*:*]", f"set title {quote(title)}",
                       f"set xlabel {quote(xlabel)}; set ylabel {quote(ylabel)}", "set key below font ',8'",
                       "set logscale y" if logy else "set yrange [0:*]"]

    @staticmethod
    def references(refs):
        """Dashed horizontal lines, named in the key."""
        return [f"{y} with lines dt {2 + i} lw 1.5 lc 'black' title {quote(label)}"
                for i, (y, label) in enumerate(refs)]

    def render(self, path_stem, term):
        terminal_name, ext = term
        size = f"size {PANEL_W * self.cols},{PANEL_H * self.rows}"
        font = "font 'sans,10'" if terminal_name == "pngcairo" else "font 'sans,10' background '#ffffff'"
        head = [f"set terminal {terminal_name} {size} {font}", f"set output {quote(path_stem.name + ext)}"]
        script = path_stem.with_suffix(".gp")
        script.write_text("\n".join(head + self.lines + ["unset multiplot", ""]))
        out = path_stem.with_suffix(ext)
        out.unlink(missing_ok=True)
        # Run in the plot's folder so the script's relative output name works by hand too.
        done = subprocess.run([gnuplot_path(), script.name], cwd=script.parent, capture_output=True, text=True)
        if done.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            raise RuntimeError(f"gnuplot failed on {script}: {done.stderr.strip()}")
        return out


def lines(path_stem, term, title, panels, xlabel, ylabel, logx=False, logy=False, xtics=None, refs=()):
    """panels: [(panel title, {series: {x: y}})]; xtics: {x: label} for named x values."""
    fig = Figure(title, len(panels))
    for p, (panel_title, series) in enumerate(panels):
        fig.panel(panel_title, xlabel, ylabel, logy)
        if logx:
            fig.lines.append("set logscale x 2")
        xs = sorted({x for points in series.values() for x in points})
        labels = xtics or {x: f"{x:g}" for x in xs}
        fig.lines.append("set xtics (" + ", ".join(f"{quote(labels[x])} {x}" for x in xs) + ")")
        pad = 0.15 if logx else 0.3
        lo, hi = (min(xs) / (1 + pad), max(xs) * (1 + pad)) if logx else (min(xs) - pad, max(xs) + pad)
        fig.lines.append(f"set xrange [{lo}:{hi}]")
        plots = fig.references(refs)
        for s, (name, points) in enumerate(series.items()):
            block = f"p{p}s{s}"
            fig.datablock(block, [[number(x), number(points[x])] for x in sorted(points)])
            plots.append(f"${block} using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc rgb '{fig.colour(name)}' "
                         f"title {quote(name)}")
        fig.lines.append("plot " + ", \\\n     ".join(plots))
    return fig.render(path_stem, term)


def bars(path_stem, term, title, panels, ylabel, logy=False, refs=(), one_per_category=False):
    """panels: [(panel title, [category...], {series: {category: value}})], clustered bars;
    one_per_category: each category has a value in one series only (the series colour the bars)."""
    fig = Figure(title, len(panels))
    fig.lines += ["set style data histograms", "set style histogram clustered gap 1",
                  "set style fill solid 0.85 border -1", "set boxwidth 0.9"]
    for p, (panel_title, categories, series) in enumerate(panels):
        fig.panel(panel_title, "", ylabel, logy)
        rotate = "rotate by -35" if len(categories) * max(1, len(series)) > 8 else "norotate"
        fig.lines.append(f"set xtics {rotate} font ',8'")
        names = list(series)
        block = f"p{p}"
        fig.datablock(block, [[quote(c)] + [number(series[n].get(c)) for n in names] for c in categories])
        # Clustered bars leave a gap for each missing series; single bars are boxes at the row index.
        using = "0:{}:xtic(1) with boxes" if one_per_category else "{}:xtic(1)"
        if one_per_category:
            fig.lines.append(f"set xrange [-0.6:{len(categories) - 0.4}]")
        plots = [f"${block} using {using.format(i + 2)} lc rgb '{fig.colour(n)}' title {quote(n)}"
                 for i, n in enumerate(names)] + fig.references(refs)
        fig.lines.append("plot " + ", \\\n     ".join(plots))
    return fig.render(path_stem, term)

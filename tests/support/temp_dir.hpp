#pragma once

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>

namespace keel::test {

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
struct temp_dir {
    std::filesystem::path path;

    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "keel-test-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            throw std::system_error(errno, std::system_category(), "mkdtemp " + tmpl);
        }
        path = tmpl;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }

    /// The path of `name` inside the directory.
    [[nodiscard]] std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace keel::test

import os

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, rmdir

required_conan_version = ">=2.0.9"


class KeelConan(ConanFile):
    name = "keel"
    version = "0.1.0"
    description = "Operating-system mechanisms for user space"
    license = "Apache-2.0"
    topics = ("systems", "allocators", "synchronization", "io_uring", "shared-memory")
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "shared": [True, False],
        "fPIC": [True, False],
        "with_liburing": [True, False],
        "with_mimalloc": [True, False],
        # keel::rpc_net over UCX. ConanCenter has no UCX recipe: this uses the
        # system's (Debian libucx-dev), found through UCX's own CMake package.
        "with_ucx": [True, False],
        # keel::sched solves its linear-constraint problems with COIN-OR CBC. Like UCX,
        # the system's (Debian coinor-libcbc-dev), found through pkg-config (cbc.pc).
        "with_coinor": [True, False],
    }
    default_options = {
        "shared": False,
        "fPIC": True,
        "with_liburing": True,
        "with_mimalloc": True,
        "with_ucx": False,
        "with_coinor": False,
    }
    implements = ["auto_shared_fpic"]

    # The recipe lives in conan/; the sources are the repository around it.
    def export_sources(self):
        root = os.path.join(self.recipe_folder, "..")
        for pattern in ("CMakeLists.txt", "cmake/*", "include/*", "src/*", "LICENSE", "README.md"):
            copy(self, pattern, root, self.export_sources_folder)

    def config_options(self):
        if self.settings.os != "Linux":
            del self.options.with_liburing

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        # keel::result is boost::system::result, visible in keel's headers.
        self.requires("boost/[>=1.81 <2]", transitive_headers=True)
        if self.options.get_safe("with_liburing"):
            self.requires("liburing/[>=2.3]")
        if self.options.with_mimalloc:
            # Build time only: mimalloc_resource compiles against <mimalloc.h> and
            # loads libmimalloc.so.2 at run time, so consumers link nothing of it.
            self.requires("mimalloc/[>=2.0]", visible=False, libs=False, headers=True)
        # keel::sched's parallel experiments link oneTBB privately (a static keel_sched
        # needs it at link time; no TBB header is in keel's).
        self.requires("onetbb/[>=2021.3]")

    def validate(self):
        check_min_cppstd(self, 20)
        if self.settings.os != "Linux":
            from conan.errors import ConanInvalidConfiguration
            raise ConanInvalidConfiguration("keel's platform layer needs Linux (futex, memfd, io_uring)")

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["KEEL_BUILD_TESTS"] = False
        tc.cache_variables["KEEL_BUILD_BENCHMARKS"] = False
        tc.cache_variables["KEEL_BUILD_EXAMPLES"] = False
        tc.cache_variables["KEEL_INSTALL"] = True
        tc.cache_variables["KEEL_WARNINGS_AS_ERRORS"] = False
        tc.cache_variables["KEEL_WITH_LIBURING"] = bool(self.options.get_safe("with_liburing"))
        tc.cache_variables["KEEL_WITH_MIMALLOC"] = bool(self.options.with_mimalloc)
        tc.cache_variables["KEEL_WITH_UCX"] = bool(self.options.with_ucx)
        tc.cache_variables["KEEL_WITH_COINOR"] = bool(self.options.with_coinor)
        tc.generate()
        # cmake/FindLibUring.cmake picks up the liburing::liburing target CMakeDeps makes.
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        cmake = CMake(self)
        cmake.install()
        rmdir(self, os.path.join(self.package_folder, "lib", "cmake"))
        rmdir(self, os.path.join(self.package_folder, "share", "doc"))

    def package_info(self):
        # One Conan component per keel target, with the same names as keel's CMake package.
        self.cpp_info.set_property("cmake_file_name", "keel")
        self.cpp_info.set_property("cmake_target_name", "keel::keel")

        platform = self.cpp_info.components["platform"]
        platform.set_property("cmake_target_name", "keel::platform")
        platform.libs = ["keel_platform"]
        platform.requires = ["boost::headers"]
        platform.system_libs = ["pthread"]
        if self.options.get_safe("with_liburing"):
            platform.requires.append("liburing::liburing")

        sync = self.cpp_info.components["sync"]
        sync.set_property("cmake_target_name", "keel::sync")
        sync.libs = ["keel_sync"]
        sync.requires = ["platform"]

        alloc = self.cpp_info.components["alloc"]
        alloc.set_property("cmake_target_name", "keel::alloc")
        alloc.libs = ["keel_alloc"]
        alloc.requires = ["sync", "platform"]
        # with_mimalloc builds mimalloc_resource, which dlopens libmimalloc.so.2 at run
        # time: consumers neither link mimalloc nor get it as their malloc.
        alloc.system_libs = ["dl"]

        trust = self.cpp_info.components["trust"]
        trust.set_property("cmake_target_name", "keel::trust")
        trust.libs = ["keel_trust"]
        # async_apply.hpp is header-only over Boost.Asio, which platform already requires.
        trust.requires = ["platform"]
        trust.system_libs = ["pthread"]

        iospec = self.cpp_info.components["iospec"]
        iospec.set_property("cmake_target_name", "keel::iospec")
        iospec.libs = ["keel_iospec"]
        iospec.requires = ["platform"]

        rpc = self.cpp_info.components["rpc"]
        rpc.set_property("cmake_target_name", "keel::rpc")
        rpc.libs = ["keel_rpc"]
        rpc.requires = ["alloc", "sync", "platform"]

        sched = self.cpp_info.components["sched"]
        sched.set_property("cmake_target_name", "keel::sched")
        sched.libs = ["keel_sched"]
        sched.requires = ["onetbb::onetbb"]
        if self.options.with_coinor:
            sched.system_libs = ["CbcSolver", "Cbc", "Cgl", "OsiClp", "ClpSolver", "Clp", "Osi",
                                 "CoinUtils"]

        if self.options.with_ucx:
            rpc_net = self.cpp_info.components["rpc_net"]
            rpc_net.set_property("cmake_target_name", "keel::rpc_net")
            rpc_net.libs = ["keel_rpc_net"]
            rpc_net.requires = ["rpc"]
            rpc_net.system_libs = ["ucp", "ucs"]

        umbrella = self.cpp_info.components["keel"]
        umbrella.set_property("cmake_target_name", "keel::keel")
        umbrella.requires = ["platform", "sync", "alloc", "trust", "iospec", "rpc", "sched"]

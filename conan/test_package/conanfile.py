import os

from conan import ConanFile
from conan.tools.build import can_run
from conan.tools.cmake import CMake, cmake_layout


class KeelTestPackage(ConanFile):
    settings = "os", "arch", "compiler", "build_type"
    generators = "CMakeDeps", "CMakeToolchain"

    def requirements(self):
        self.requires(self.tested_reference_str)

    def layout(self):
        cmake_layout(self)

    def build(self):
        # The same consumer project CTest builds against an installed keel.
        cmake = CMake(self)
        # CMakeDeps' generated config does not validate component names; keel's does.
        cmake.configure(build_script_folder=os.path.join(self.source_folder, "..", "..", "tests", "consumer"),
                        variables={"KEEL_CONSUMER_CHECK_UNKNOWN_COMPONENT": "OFF"})
        cmake.build()

    def test(self):
        if can_run(self):
            self.run(os.path.join(self.cpp.build.bindir, "consumer"), env="conanrun")

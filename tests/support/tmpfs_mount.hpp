// A tmpfs mounted for a test (a small or full file system on demand),
// unmounted whatever happens. Header-only, like kernel_keys.hpp.
#pragma once

#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

namespace anchord::testing {

class TmpfsMount {
  public:
    TmpfsMount(const std::filesystem::path& where, const char* options) : where_(where) {
        std::filesystem::create_directories(where_);
        if (::mount("tmpfs", where_.c_str(), "tmpfs", 0, options) == 0) {
            mounted_ = true;
        } else {
            error_ = std::strerror(errno);
        }
    }
    TmpfsMount(const TmpfsMount&) = delete;
    TmpfsMount& operator=(const TmpfsMount&) = delete;
    ~TmpfsMount() {
        if (mounted_) ::umount2(where_.c_str(), MNT_DETACH);
    }
    bool mounted() const { return mounted_; }
    const std::string& error() const { return error_; }

    // Free space of the file system, in bytes.
    std::uintmax_t free_bytes() const {
        struct statvfs st {};
        if (::statvfs(where_.c_str(), &st) != 0) return 0;
        return static_cast<std::uintmax_t>(st.f_bavail) * st.f_frsize;
    }

  private:
    std::filesystem::path where_;
    bool mounted_ = false;
    std::string error_;
};

}  // namespace anchord::testing

#include "files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <string_view>

#include "failure.hpp"

namespace anchorctl {
namespace {

class FileDescriptor {
  public:
    explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
    ~FileDescriptor() {
        if (fd_ >= 0) ::close(fd_);
    }
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    int get() const noexcept { return fd_; }

  private:
    int fd_;
};

Failure file_failure(const std::string& name, const std::string& what) {
    return Failure(anchord::exit_status::failed, client_error::file,
                   "cannot read '" + name + "': " + what);
}

Failure too_large(const std::string& name) {
    return file_failure(name, "larger than " + std::to_string(kMaxInputBytes / (1024 * 1024)) +
                                  " MiB, not a certificate bundle");
}

anchord::Bytes read_path(const std::string& path) {
    const FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (fd.get() < 0) throw file_failure(path, std::strerror(errno));
    anchord::Bytes bytes;
    std::uint8_t buffer[65536];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw file_failure(path, std::strerror(errno));
        }
        if (n == 0) break;
        if (bytes.size() + static_cast<std::size_t>(n) > kMaxInputBytes) throw too_large(path);
        bytes.insert(bytes.end(), buffer, buffer + n);
    }
    return bytes;
}

anchord::Bytes read_stream(std::istream& in) {
    anchord::Bytes bytes;
    char buffer[65536];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        const auto n = static_cast<std::size_t>(in.gcount());
        if (bytes.size() + n > kMaxInputBytes) throw too_large("-");
        bytes.insert(bytes.end(), buffer, buffer + n);
    }
    if (in.bad()) throw file_failure("-", "standard input could not be read");
    return bytes;
}

constexpr std::string_view kBegin = "-----BEGIN ";

// The PEM labels that hold one certificate each.
std::size_t count_certificate_blocks(anchord::ByteView bytes) {
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    std::size_t count = 0;
    for (const std::string_view label :
         {"-----BEGIN CERTIFICATE-----", "-----BEGIN X509 CERTIFICATE-----",
          "-----BEGIN TRUSTED CERTIFICATE-----"}) {
        for (auto at = text.find(label); at != std::string_view::npos;
             at = text.find(label, at + label.size())) {
            ++count;
        }
    }
    return count;
}

}  // namespace

std::vector<InputFile> read_inputs(const std::vector<std::string>& names,
                                   std::istream& standard_input) {
    if (std::count(names.begin(), names.end(), "-") > 1) {
        throw usage_failure("'-' (standard input) may be given only once");
    }
    std::vector<InputFile> out;
    out.reserve(names.size());
    for (const auto& name : names) {
        out.push_back({name, name == "-" ? read_stream(standard_input) : read_path(name)});
    }
    return out;
}

bool looks_like_pem(anchord::ByteView bytes) noexcept {
    const auto first = std::find_if(bytes.begin(), bytes.end(), [](std::uint8_t c) {
        return c != ' ' && c != '\t' && c != '\r' && c != '\n';
    });
    const auto rest = static_cast<std::size_t>(bytes.end() - first);
    return rest >= kBegin.size() && std::equal(kBegin.begin(), kBegin.end(), first);
}

std::vector<Bundle> make_bundles(std::vector<InputFile> inputs) {
    std::vector<Bundle> out;
    const bool all_pem = inputs.size() > 1 &&
                         std::all_of(inputs.begin(), inputs.end(),
                                     [](const InputFile& f) { return looks_like_pem(f.bytes); });
    if (all_pem) {
        Bundle joined;
        for (auto& input : inputs) {
            joined.bytes.insert(joined.bytes.end(), input.bytes.begin(), input.bytes.end());
            // A file without a final newline must not glue its END line to
            // the next file's BEGIN line.
            joined.bytes.push_back('\n');
            joined.certificates_per_file.push_back(count_certificate_blocks(input.bytes));
            joined.files.push_back(std::move(input.name));
        }
        out.push_back(std::move(joined));
        return out;
    }
    for (auto& input : inputs) {
        out.push_back({std::move(input.bytes), {std::move(input.name)}, {}});
    }
    return out;
}

void attribute(std::vector<CertificateResult>& results, const Bundle& bundle,
               std::uint32_t first_index) {
    std::stable_sort(
        results.begin(), results.end(),
        [](const CertificateResult& a, const CertificateResult& b) { return a.index < b.index; });
    for (auto& result : results) result.index += first_index;
    if (bundle.files.size() == 1) {
        for (auto& result : results) result.file = bundle.files.front();
        return;
    }
    // Several files joined: name each result's file only when anchord found
    // exactly the certificates counted, else a name could be wrong.
    std::size_t counted = 0;
    for (const auto n : bundle.certificates_per_file) counted += n;
    if (counted != results.size()) return;
    std::size_t file = 0;
    std::size_t left = bundle.certificates_per_file.empty() ? 0 : bundle.certificates_per_file[0];
    for (auto& result : results) {
        while (left == 0 && file + 1 < bundle.files.size())
            left = bundle.certificates_per_file[++file];
        result.file = bundle.files[file];
        --left;
    }
}

}  // namespace anchorctl

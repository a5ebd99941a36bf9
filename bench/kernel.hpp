// The floors: what the kernel itself costs, measured in process with
// libkeyutils, on a sandbox shaped like anchord's (daemon/keyring).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "anchord/types.hpp"
#include "keyring/keyrings.hpp"
#include "pki.hpp"

namespace anchord::bench {

// A fresh sandbox (Keyrings::sandbox with the set's root as the builtin
// anchor), by default with the intermediate linked into secondary so that
// leaves can go into ima. Cleared and dropped with the object.
class Sandbox {
  public:
    explicit Sandbox(const CertSet& set, bool with_intermediate = true);
    KeySerial ima() const;
    KeySerial secondary() const;
    keyring::Keyrings& keyrings() { return keyrings_; }

  private:
    keyring::Keyrings keyrings_;
};

// add_key("asymmetric", NULL, der, ring) for each of ders[0, count): the
// floor. Throws std::runtime_error naming the certificate and the errno.
void add_keys(KeySerial ring, const std::vector<Bytes>& ders, std::size_t count);
void add_key(KeySerial ring, const Bytes& der);

// The serials a keyring links.
std::vector<std::int32_t> ring_serials(KeySerial ring);
// What listing a keyring costs in process: read its serials, describe each
// key. Returns the number described.
std::size_t list_and_describe(KeySerial ring);
// Reads /proc/keys whole into `buffer`; returns its size.
std::size_t read_proc_keys(std::string& buffer);

}  // namespace anchord::bench

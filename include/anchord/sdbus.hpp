// sdbus-c++ for anchord: include this instead of <sdbus-c++/sdbus-c++.h>.
//
// sdbus-c++ 1.2 writes and reads a byte array (`ay`) one library call per
// byte. A 1,000-certificate PEM bundle is about 1.5 MB, so an Enroll of it
// spent milliseconds in each direction on that alone (bench/README.md).
// These overloads move a byte array in one sd-bus call each way. They are
// plain functions in namespace sdbus, so overload resolution prefers them
// to sdbus-c++'s element-by-element template wherever a std::vector<uint8_t>
// is marshalled, the generated adaptor and proxy included; every file of the
// project that marshals must see them, hence the one include.
#pragma once

#include <sdbus-c++/sdbus-c++.h>
#include <systemd/sd-bus.h>

#include <cstdint>
#include <vector>

namespace sdbus {

namespace anchord_detail {

// Message keeps its sd_bus_message in a protected member; a pointer to that
// member, formed in a derived class, reaches it without a cast of the
// object.
struct MessageInternals : Message {
    static sd_bus_message* raw(const Message& message) {
        return static_cast<sd_bus_message*>(message.*(&MessageInternals::msg_));
    }
    static void mark_end(Message& message) { message.*(&MessageInternals::ok_) = false; }
};

}  // namespace anchord_detail

inline Message& operator<<(Message& msg, const std::vector<std::uint8_t>& bytes) {
    // sd-bus wants a non-null pointer even for an empty array.
    static const std::uint8_t kNone = 0;
    const int r = sd_bus_message_append_array(anchord_detail::MessageInternals::raw(msg), 'y',
                                              bytes.empty() ? &kNone : bytes.data(), bytes.size());
    if (r < 0) throw createError(-r, "Failed to serialize a byte array");
    return msg;
}

inline Message& operator>>(Message& msg, std::vector<std::uint8_t>& bytes) {
    const void* data = nullptr;
    std::size_t size = 0;
    const int r =
        sd_bus_message_read_array(anchord_detail::MessageInternals::raw(msg), 'y', &data, &size);
    // As sdbus-c++'s own readers: 0 is the end of the enclosing container,
    // which a reader of an array of arrays stops on.
    if (r == 0) {
        anchord_detail::MessageInternals::mark_end(msg);
        return msg;
    }
    if (r < 0) throw createError(-r, "Failed to deserialize a byte array");
    const auto* first = static_cast<const std::uint8_t*>(data);
    bytes.insert(bytes.end(), first, first + size);
    return msg;
}

}  // namespace sdbus

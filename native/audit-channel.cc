#include "audit-channel.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace ss {
namespace audit {
namespace {

constexpr uint32_t kMagic = 0x4B415353;  // "SSAK" little-endian
// pthread_once, not the C++ call_once: with the static libstdc++ in this addon, call_once's
// thread-local hand-off can resolve against the host Node's copy (Node 24 crashed in it).
pthread_once_t initFlag = PTHREAD_ONCE_INIT;
std::atomic<int> channelFd{-1};
std::mutex writeLock;  // one record at a time, in sequence order (main thread and workers)
uint32_t seq = 0;

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

bool parseFd(const char* text, int* fd) {
  if (!text || !*text) return false;
  long v = 0;
  for (const char* c = text; *c; c++) {
    if (*c < '0' || *c > '9' || v > 100000) return false;
    v = v * 10 + (*c - '0');
  }
  if (v <= 2) return false;  // never stdin, stdout or stderr
  *fd = static_cast<int>(v);
  return true;
}

// Only what the auditor makes: a regular file nobody can open by name, that
// this process can append to and not read back through this descriptor.
bool acceptable(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 0) return false;
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && (fl & O_ACCMODE) == O_WRONLY && (fl & O_APPEND) != 0;
}

// The value in the environment the process was started with (/proc/self/environ),
// not the live one: JavaScript can change process.env before the addon loads, but
// not what its parent passed to execve.
bool fromExecEnvironment(std::string* value) {
  int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::string all;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const std::string prefix = std::string(kEnvVar) + "=";
  for (size_t at = 0; at < all.size();) {
    size_t end = all.find('\0', at);
    if (end == std::string::npos) end = all.size();
    if (all.compare(at, prefix.size(), prefix) == 0) {
      *value = all.substr(at + prefix.size(), end - at - prefix.size());
      return true;
    }
    at = end + 1;
  }
  return false;
}

void readEnvironment() {
  bool live = getenv(kEnvVar) != nullptr;
  unsetenv(kEnvVar);
  std::string text;
  if (!fromExecEnvironment(&text)) {
    if (live) fprintf(stderr, "secret-scope: %s ignored: it was not in the environment the process started with\n", kEnvVar);
    return;
  }
  int fd = -1;
  bool parsed = parseFd(text.c_str(), &fd);
  if (!parsed || !acceptable(fd)) {
    fprintf(stderr, "secret-scope: %s ignored: it must name an unlinked, write-only, append-only file the auditor opened\n",
            kEnvVar);
    return;
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);  // not inherited by anything this process starts
  channelFd.store(fd);
  fprintf(stderr, "secret-scope: audit key channel ON (fd %d): every key is written to the auditor; never set %s in production\n",
          fd, kEnvVar);
}

}  // namespace

void initOnce() { pthread_once(&initFlag, readEnvironment); }

bool on() { return channelFd.load(std::memory_order_relaxed) >= 0; }

uint32_t records() {
  std::lock_guard<std::mutex> lock(writeLock);
  return seq;
}

void write(Record type, uint8_t slotKind, uint8_t flags, uint32_t slot, uint32_t owner, const uint8_t* bytes,
           uint32_t len) {
  int fd = channelFd.load(std::memory_order_relaxed);
  if (fd < 0) return;
  std::lock_guard<std::mutex> lock(writeLock);
  uint8_t header[24] = {0};
  put32(header, kMagic);
  put32(header + 4, ++seq);
  put32(header + 8, len);
  header[12] = static_cast<uint8_t>(type);
  header[13] = slotKind;
  header[14] = flags;
  put32(header + 16, slot);
  put32(header + 20, owner);
  struct iovec iov[2] = {{header, sizeof header}, {const_cast<uint8_t*>(bytes), len}};
  int count = len ? 2 : 1;
  size_t left = sizeof header + len;
  struct iovec* v = iov;
  while (left > 0) {
    ssize_t n = writev(fd, v, count);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the auditor sees the gap in the sequence and reports it
    left -= static_cast<size_t>(n);
    while (count > 0 && static_cast<size_t>(n) >= v->iov_len) {
      n -= static_cast<ssize_t>(v->iov_len);
      v++;
      count--;
    }
    if (count > 0) {
      v->iov_base = static_cast<uint8_t*>(v->iov_base) + n;
      v->iov_len -= static_cast<size_t>(n);
    }
  }
}

}  // namespace audit
}  // namespace ss

// Multiboot 0.6.96 loader. Section numbers refer to that specification:
// 3.1 the OS image format and its header, 3.2 the machine state at entry,
// 3.3 the boot information format.
//
// Everything is checked before anything is written to guest RAM, so a
// rejected image leaves RAM untouched. Guest physical layout it produces:
//
//   0x9000      multiboot_info, memory map, module list, strings (< 0x9FC00)
//   kernel      where its ELF segments (p_paddr) or a.out-kludge fields say
//   modules     page aligned, from the first page above the kernel and the
//               boot information, in the order given
#include "runtime/loaders/multiboot.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "runtime/loaders/image_file.h"

namespace bt86 {
namespace {

constexpr uint32_t kHeaderMagic = 0x1BADB002;
constexpr uint64_t kHeaderSearchBytes = 8192;       ///< The header lies within the first 8 KiB.
constexpr uint64_t kHeaderBytes = 12;               ///< magic, flags, checksum.
constexpr uint64_t kHeaderWithAddressesBytes = 32;  ///< ... then the five address fields.

// Header flags (3.1.2). Bits 0-15 are requirements: a loader that cannot
// honour one must refuse the image. Bits 16-31 are optional features.
constexpr uint32_t kHeaderPageAlignModules = 1u << 0;  ///< Honoured: modules are always aligned.
constexpr uint32_t kHeaderMemoryInfo = 1u << 1;  ///< Honoured: mem_* and mmap are always given.
constexpr uint32_t kHeaderVideoMode = 1u << 2;   ///< Accepted; see CheckRequiredFlags.
constexpr uint32_t kHeaderRequiredBits = 0x0000ffff;
constexpr uint32_t kHeaderAddressFields = 1u << 16;  ///< The a.out kludge.

// multiboot_info flags and field offsets (3.3).
constexpr uint32_t kInfoMemory = 1u << 0;
constexpr uint32_t kInfoCmdline = 1u << 2;
constexpr uint32_t kInfoMods = 1u << 3;
constexpr uint32_t kInfoMmap = 1u << 6;
constexpr uint32_t kInfoBootLoaderName = 1u << 9;
constexpr uint64_t kInfoFlagsField = 0;
constexpr uint64_t kInfoMemLowerField = 4;
constexpr uint64_t kInfoMemUpperField = 8;
constexpr uint64_t kInfoCmdlineField = 16;
constexpr uint64_t kInfoModsCountField = 20;
constexpr uint64_t kInfoModsAddrField = 24;
constexpr uint64_t kInfoMmapLengthField = 44;
constexpr uint64_t kInfoMmapAddrField = 48;
constexpr uint64_t kInfoBootLoaderNameField = 64;
constexpr uint64_t kInfoBytes = 88;  ///< Through the VBE fields, the last ones 0.6.96 defines.

/// A module list entry: mod_start, mod_end, string, reserved.
constexpr uint64_t kModuleEntryBytes = 16;
/// A memory map entry: size (of what follows: 20), base_addr, length, type.
constexpr uint64_t kMmapEntryBytes = 24;
constexpr uint32_t kMmapAvailable = 1;
constexpr uint32_t kMmapReserved = 2;

// The PC's physical memory below 1 MiB, as a BIOS describes it.
constexpr uint64_t kEbdaStart = kMultibootInfoLimit;  ///< Extended BIOS data area.
constexpr uint64_t kVgaStart = 0xA0000;
constexpr uint64_t kBiosStart = 0xF0000;
constexpr uint64_t kHighMemoryStart = 0x100000;

// ELF32 (System V ABI, Intel386 supplement).
constexpr uint64_t kElfHeaderBytes = 52;
constexpr uint64_t kElfPhdrBytes = 32;
constexpr uint8_t kElfClass32 = 1;
constexpr uint8_t kElfDataLsb = 1;
constexpr uint16_t kElfTypeExec = 2;
constexpr uint16_t kElfMachine386 = 3;
constexpr uint32_t kElfPtLoad = 1;
constexpr uint32_t kElfPfX = 1;

uint64_t AlignUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

/// Little-endian loads; the caller has checked the bounds.
uint16_t Load16(const std::vector<uint8_t>& bytes, uint64_t offset) {
  return static_cast<uint16_t>(bytes[offset] | bytes[offset + 1] << 8);
}
uint32_t Load32(const std::vector<uint8_t>& bytes, uint64_t offset) {
  return uint32_t{Load16(bytes, offset)} | uint32_t{Load16(bytes, offset + 2)} << 16;
}

/// The Multiboot header fields bt86 uses (3.1.1).
struct MultibootHeader {
  uint64_t file_offset = 0;  ///< Where the magic is.
  uint32_t flags = 0;
  // Valid only with kHeaderAddressFields (3.1.3).
  uint32_t header_addr = 0;
  uint32_t load_addr = 0;
  uint32_t load_end_addr = 0;
  uint32_t bss_end_addr = 0;
  uint32_t entry_addr = 0;
};

/// Finds the first header with a valid checksum at a 4-byte aligned offset
/// within the first 8 KiB (3.1.1).
Status FindHeader(const std::string& path, const std::vector<uint8_t>& file, MultibootHeader* out) {
  if (file.size() < kHeaderBytes) {
    return UsageError("multiboot kernel '{}' is too short ({} bytes) to hold a Multiboot header",
                      path, file.size());
  }
  const uint64_t search_end = std::min<uint64_t>(file.size(), kHeaderSearchBytes);
  std::optional<uint64_t> bad_checksum_offset;
  for (uint64_t offset = 0; offset + kHeaderBytes <= search_end; offset += 4) {
    if (Load32(file, offset) != kHeaderMagic) continue;
    const uint32_t flags = Load32(file, offset + 4);
    const uint32_t sum = kHeaderMagic + flags + Load32(file, offset + 8);
    if (sum != 0) {
      if (!bad_checksum_offset) bad_checksum_offset = offset;
      continue;
    }
    MultibootHeader header;
    header.file_offset = offset;
    header.flags = flags;
    if (flags & kHeaderAddressFields) {
      if (offset + kHeaderWithAddressesBytes > search_end) {
        return UsageError(
            "multiboot kernel '{}': the Multiboot header at offset {:#x} sets flag bit 16 but "
            "its address fields run past the end of the file or of its first 8192 bytes",
            path, offset);
      }
      header.header_addr = Load32(file, offset + 12);
      header.load_addr = Load32(file, offset + 16);
      header.load_end_addr = Load32(file, offset + 20);
      header.bss_end_addr = Load32(file, offset + 24);
      header.entry_addr = Load32(file, offset + 28);
    }
    *out = header;
    return Status::Ok();
  }
  if (bad_checksum_offset) {
    return UsageError(
        "multiboot kernel '{}': the Multiboot header at offset {:#x} has a bad checksum "
        "(magic + flags + checksum must be 0 mod 2^32)",
        path, *bad_checksum_offset);
  }
  return UsageError(
      "multiboot kernel '{}' has no Multiboot header (magic {:#x} at a 4-byte aligned offset "
      "within the first 8192 bytes)",
      path, kHeaderMagic);
}

/// Refuses images that require a feature bt86 cannot honour (3.1.2).
Status CheckRequiredFlags(const std::string& path, uint32_t flags) {
  // Bit 2 asks for video mode information. bt86 has no framebuffer: it sets
  // no VBE or framebuffer info flag, which tells the kernel it is in VGA text
  // mode, as GRUB does when it cannot set the requested mode. Kernels commonly
  // set the bit just in case, so refusing them would help no one.
  constexpr uint32_t kHonoured = kHeaderPageAlignModules | kHeaderMemoryInfo | kHeaderVideoMode;
  const uint32_t unsupported = flags & kHeaderRequiredBits & ~kHonoured;
  if (unsupported != 0) {
    return UsageError(
        "multiboot kernel '{}' requires Multiboot features bt86 does not provide (header "
        "flags {:#x} of {:#x})",
        path, unsupported, flags);
  }
  return Status::Ok();
}

/// One piece of the kernel image: `file_bytes` bytes of the file copied to
/// `paddr`, then zeros up to `mem_bytes`.
struct Segment {
  std::string name;  ///< For errors: "program header 2", "a.out kludge image".
  uint64_t paddr = 0;
  uint64_t file_offset = 0;
  uint64_t file_bytes = 0;
  uint64_t mem_bytes = 0;
};

struct KernelImage {
  std::vector<Segment> segments;
  uint32_t entry = 0;
};

/// Plans the load from the header's address fields (3.1.3), whatever the file format.
Status PlanAoutKludge(const std::string& path, const std::vector<uint8_t>& file,
                      const MultibootHeader& header, KernelImage* out) {
  // header_addr is where the header's own bytes land; with load_addr it fixes
  // the file offset of the first byte to load.
  if (header.load_addr > header.header_addr) {
    return UsageError("multiboot kernel '{}': load_addr {:#x} is above header_addr {:#x}", path,
                      header.load_addr, header.header_addr);
  }
  const uint64_t header_distance = header.header_addr - header.load_addr;
  if (header_distance > header.file_offset) {
    return UsageError(
        "multiboot kernel '{}': header_addr - load_addr ({:#x}) exceeds the header's file "
        "offset ({:#x})",
        path, header_distance, header.file_offset);
  }
  const uint64_t load_offset = header.file_offset - header_distance;

  uint64_t load_bytes = file.size() - load_offset;  // load_end_addr 0: the rest of the file.
  if (header.load_end_addr != 0) {
    if (header.load_end_addr < header.load_addr) {
      return UsageError("multiboot kernel '{}': load_end_addr {:#x} is below load_addr {:#x}", path,
                        header.load_end_addr, header.load_addr);
    }
    load_bytes = header.load_end_addr - header.load_addr;
    if (load_offset + load_bytes > file.size()) {
      return UsageError(
          "multiboot kernel '{}': load_end_addr {:#x} asks for file bytes [{:#x}, {:#x}), past "
          "the end of the file ({:#x} bytes)",
          path, header.load_end_addr, load_offset, load_offset + load_bytes, file.size());
    }
  }
  uint64_t mem_bytes = load_bytes;
  if (header.bss_end_addr != 0) {
    const uint64_t load_end = header.load_addr + load_bytes;
    if (header.bss_end_addr < load_end) {
      return UsageError(
          "multiboot kernel '{}': bss_end_addr {:#x} is below the end of the loaded image {:#x}",
          path, header.bss_end_addr, load_end);
    }
    mem_bytes = header.bss_end_addr - header.load_addr;
  }
  out->segments = {{"a.out kludge image", header.load_addr, load_offset, load_bytes, mem_bytes}};
  out->entry = header.entry_addr;
  return Status::Ok();
}

/// Plans the load of an ELF32 i386 executable's PT_LOAD segments at their p_paddr.
Status PlanElf(const std::string& path, const std::vector<uint8_t>& file, KernelImage* out) {
  static constexpr uint8_t kElfMagic[4] = {0x7f, 'E', 'L', 'F'};
  if (file.size() < kElfHeaderBytes || std::memcmp(file.data(), kElfMagic, 4) != 0) {
    return UsageError(
        "multiboot kernel '{}' is not an ELF file, and its Multiboot header does not set flag "
        "bit 16 (a.out kludge address fields)",
        path);
  }
  if (file[4] != kElfClass32) {
    return UsageError("multiboot kernel '{}' is not a 32-bit ELF file (EI_CLASS {})", path,
                      file[4]);
  }
  if (file[5] != kElfDataLsb) {
    return UsageError("multiboot kernel '{}' is not a little-endian ELF file (EI_DATA {})", path,
                      file[5]);
  }
  const uint16_t e_type = Load16(file, 16);
  if (e_type != kElfTypeExec) {
    return UsageError("multiboot kernel '{}' is not an executable ELF file (e_type {}, not {})",
                      path, e_type, kElfTypeExec);
  }
  const uint16_t e_machine = Load16(file, 18);
  if (e_machine != kElfMachine386) {
    return UsageError("multiboot kernel '{}' is not an i386 ELF file (e_machine {}, not {})", path,
                      e_machine, kElfMachine386);
  }
  const uint32_t e_entry = Load32(file, 24);
  const uint64_t e_phoff = Load32(file, 28);
  const uint64_t e_phentsize = Load16(file, 42);
  const uint64_t e_phnum = Load16(file, 44);
  if (e_phnum == 0) {
    return UsageError("multiboot kernel '{}' has no ELF program headers", path);
  }
  if (e_phentsize < kElfPhdrBytes) {
    return UsageError("multiboot kernel '{}': ELF program headers of {} bytes (need {})", path,
                      e_phentsize, kElfPhdrBytes);
  }
  const uint64_t phdrs_end = e_phoff + e_phnum * e_phentsize;
  if (phdrs_end > file.size()) {
    return UsageError(
        "multiboot kernel '{}': the ELF program headers [{:#x}, {:#x}) run past the end of the "
        "file ({:#x} bytes)",
        path, e_phoff, phdrs_end, file.size());
  }

  KernelImage image;
  image.entry = e_entry;
  for (uint64_t i = 0; i < e_phnum; ++i) {
    const uint64_t phdr = e_phoff + i * e_phentsize;
    if (Load32(file, phdr) != kElfPtLoad) continue;
    const uint64_t p_offset = Load32(file, phdr + 4);
    const uint32_t p_vaddr = Load32(file, phdr + 8);
    const uint32_t p_paddr = Load32(file, phdr + 12);
    const uint64_t p_filesz = Load32(file, phdr + 16);
    const uint64_t p_memsz = Load32(file, phdr + 20);
    const uint32_t p_flags = Load32(file, phdr + 24);
    if (p_filesz > p_memsz) {
      return UsageError(
          "multiboot kernel '{}': ELF program header {} has p_filesz {:#x} > p_memsz {:#x}", path,
          i, p_filesz, p_memsz);
    }
    if (p_memsz == 0) continue;
    if (p_offset + p_filesz > file.size()) {
      return UsageError(
          "multiboot kernel '{}': ELF program header {} asks for file bytes [{:#x}, {:#x}), past "
          "the end of the file ({:#x} bytes)",
          path, i, p_offset, p_offset + p_filesz, file.size());
    }
    image.segments.push_back(
        {fmt::format("ELF program header {}", i), p_paddr, p_offset, p_filesz, p_memsz});
    // e_entry is a virtual address, but the kernel starts with paging off.
    // Like QEMU (hw/core/elf_ops.h), translate it through the executable
    // segment that holds it when that segment's addresses differ.
    if (p_vaddr != p_paddr && (p_flags & kElfPfX) && e_entry >= p_vaddr &&
        e_entry - p_vaddr < p_filesz) {
      image.entry = e_entry - p_vaddr + p_paddr;
    }
  }
  if (image.segments.empty()) {
    return UsageError("multiboot kernel '{}' has no loadable (PT_LOAD) ELF segment", path);
  }
  *out = std::move(image);
  return Status::Ok();
}

/// Every segment must lie in RAM and leave the boot information alone.
Status CheckKernelPlacement(const std::string& path, const GuestMemory& mem,
                            const KernelImage& image, uint64_t info_begin, uint64_t info_end) {
  for (const Segment& segment : image.segments) {
    const uint64_t end = segment.paddr + segment.mem_bytes;
    if (!mem.Contains(segment.paddr, segment.mem_bytes)) {
      return UsageError(
          "multiboot kernel '{}': {} [{:#x}, {:#x}) lies outside guest RAM [0, {:#x})", path,
          segment.name, segment.paddr, end, mem.ram_bytes());
    }
    if (segment.paddr < info_end && info_begin < end) {
      return UsageError(
          "multiboot kernel '{}': {} [{:#x}, {:#x}) overlaps the boot information at "
          "[{:#x}, {:#x})",
          path, segment.name, segment.paddr, end, info_begin, info_end);
    }
  }
  return Status::Ok();
}

/// A block of boot information built in host memory, copied to guest RAM at
/// `base` once complete. Addresses are guest physical.
class BootInfoBlock {
 public:
  explicit BootInfoBlock(uint64_t base) : base_(base) {}

  /// Appends `size` zero bytes at an `alignment` boundary; returns their address.
  uint64_t Allocate(uint64_t size, uint64_t alignment) {
    const uint64_t offset = AlignUp(bytes_.size(), alignment);
    bytes_.resize(offset + size);
    return base_ + offset;
  }
  /// Appends a NUL-terminated copy of `s`; returns its address.
  uint64_t AddString(const std::string& s) {
    const uint64_t address = Allocate(s.size() + 1, 1);
    std::memcpy(&bytes_[address - base_], s.data(), s.size());
    return address;
  }
  void Store32(uint64_t address, uint64_t value) { Store(address, value, 4); }
  void Store64(uint64_t address, uint64_t value) { Store(address, value, 8); }

  uint64_t base() const { return base_; }
  uint64_t end() const { return base_ + bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  /// Little-endian, as the guest reads it.
  void Store(uint64_t address, uint64_t value, int size) {
    for (int i = 0; i < size; ++i) {
      bytes_[address - base_ + i] = static_cast<uint8_t>(value >> (8 * i));
    }
  }

  uint64_t base_;
  std::vector<uint8_t> bytes_;
};

struct MemoryRegion {
  uint64_t base;
  uint64_t length;
  uint32_t type;
};

/// The BIOS-style memory map (3.3 mmap): low RAM up to the EBDA, the EBDA
/// and the BIOS ROM reserved, the VGA and option-ROM hole absent, then RAM
/// from 1 MiB.
std::vector<MemoryRegion> MemoryMap(uint64_t ram_bytes) {
  std::vector<MemoryRegion> map = {
      {0, kEbdaStart, kMmapAvailable},
      {kEbdaStart, kVgaStart - kEbdaStart, kMmapReserved},
      {kBiosStart, kHighMemoryStart - kBiosStart, kMmapReserved},
  };
  if (ram_bytes > kHighMemoryStart) {
    map.push_back({kHighMemoryStart, ram_bytes - kHighMemoryStart, kMmapAvailable});
  }
  return map;
}

/// Lays out multiboot_info and what it points to (3.3). The module list's
/// mod_start/mod_end stay 0 for PlaceModules; returns the list's address.
uint64_t LayOutBootInfo(uint64_t ram_bytes, const std::string& cmdline,
                        const std::vector<MultibootModule>& modules, BootInfoBlock* info) {
  const uint64_t mbi = info->Allocate(kInfoBytes, 8);

  // mmap_addr points at the first entry's size field (the spec draws size at
  // offset -4 of an entry, but its example kernel, GRUB and QEMU all do this).
  const std::vector<MemoryRegion> map = MemoryMap(ram_bytes);
  const uint64_t mmap = info->Allocate(map.size() * kMmapEntryBytes, 8);
  for (size_t i = 0; i < map.size(); ++i) {
    const uint64_t entry = mmap + i * kMmapEntryBytes;
    info->Store32(entry, kMmapEntryBytes - 4);
    info->Store64(entry + 4, map[i].base);
    info->Store64(entry + 12, map[i].length);
    info->Store32(entry + 20, map[i].type);
  }

  const uint64_t mods = info->Allocate(modules.size() * kModuleEntryBytes, 8);
  for (size_t i = 0; i < modules.size(); ++i) {
    info->Store32(mods + i * kModuleEntryBytes + 8, info->AddString(modules[i].args));
  }

  info->Store32(mbi + kInfoFlagsField,
                kInfoMemory | kInfoCmdline | kInfoMods | kInfoMmap | kInfoBootLoaderName);
  info->Store32(mbi + kInfoMemLowerField, kEbdaStart / 1024);
  info->Store32(mbi + kInfoMemUpperField, (ram_bytes - kHighMemoryStart) / 1024);
  info->Store32(mbi + kInfoCmdlineField, info->AddString(cmdline));
  info->Store32(mbi + kInfoModsCountField, modules.size());
  info->Store32(mbi + kInfoModsAddrField, mods);
  info->Store32(mbi + kInfoMmapLengthField, map.size() * kMmapEntryBytes);
  info->Store32(mbi + kInfoMmapAddrField, mmap);
  info->Store32(mbi + kInfoBootLoaderNameField, info->AddString("bt86"));
  return mods;
}

/// Places the modules page aligned from `first_free` up and records their
/// addresses in the module list at `mods`.
Status PlaceModules(const GuestMemory& mem, const std::vector<MultibootModule>& modules,
                    const std::vector<std::vector<uint8_t>>& contents, uint64_t first_free,
                    uint64_t mods, BootInfoBlock* info, std::vector<uint64_t>* starts) {
  uint64_t next = AlignUp(first_free, kPageSize);
  for (size_t i = 0; i < modules.size(); ++i) {
    const uint64_t start = next;
    const uint64_t end = start + contents[i].size();
    if (end > mem.ram_bytes()) {
      return UsageError(
          "multiboot module '{}' ({:#x} bytes) does not fit in guest RAM: it would occupy "
          "[{:#x}, {:#x}), RAM ends at {:#x}",
          modules[i].path, contents[i].size(), start, end, mem.ram_bytes());
    }
    info->Store32(mods + i * kModuleEntryBytes, start);
    info->Store32(mods + i * kModuleEntryBytes + 4, end);
    starts->push_back(start);
    next = AlignUp(end, kPageSize);
  }
  return Status::Ok();
}

}  // namespace

Status LoadMultiboot(GuestMemory& mem, const std::string& path, const std::string& cmdline,
                     const std::vector<MultibootModule>& modules, BootState* out) {
  if (mem.ram_bytes() < kHighMemoryStart) {
    return UsageError("a Multiboot kernel needs at least 1 MiB of guest RAM (have {:#x} bytes)",
                      mem.ram_bytes());
  }

  // Plan the kernel image.
  std::vector<uint8_t> file;
  BT86_RETURN_IF_ERROR(ReadImageFile("multiboot kernel", path, UINT64_MAX, &file));
  MultibootHeader header;
  BT86_RETURN_IF_ERROR(FindHeader(path, file, &header));
  BT86_RETURN_IF_ERROR(CheckRequiredFlags(path, header.flags));
  KernelImage image;
  if (header.flags & kHeaderAddressFields) {
    BT86_RETURN_IF_ERROR(PlanAoutKludge(path, file, header, &image));
  } else {
    BT86_RETURN_IF_ERROR(PlanElf(path, file, &image));
  }

  // Plan the boot information, then check the kernel against it.
  BootInfoBlock info(kMultibootInfoAddress);
  const uint64_t mods = LayOutBootInfo(mem.ram_bytes(), cmdline, modules, &info);
  if (info.end() > kMultibootInfoLimit) {
    return UsageError(
        "the boot information ({:#x} bytes, mostly the command line and module strings) does "
        "not fit in [{:#x}, {:#x})",
        info.bytes().size(), kMultibootInfoAddress, kMultibootInfoLimit);
  }
  BT86_RETURN_IF_ERROR(CheckKernelPlacement(path, mem, image, info.base(), info.end()));

  // Plan the modules above everything else.
  std::vector<std::vector<uint8_t>> contents(modules.size());
  for (size_t i = 0; i < modules.size(); ++i) {
    BT86_RETURN_IF_ERROR(
        ReadImageFile("multiboot module", modules[i].path, mem.ram_bytes(), &contents[i]));
  }
  uint64_t first_free = info.end();
  for (const Segment& segment : image.segments) {
    first_free = std::max(first_free, segment.paddr + segment.mem_bytes);
  }
  std::vector<uint64_t> module_starts;
  BT86_RETURN_IF_ERROR(
      PlaceModules(mem, modules, contents, first_free, mods, &info, &module_starts));

  // Everything fits: write guest RAM.
  for (const Segment& segment : image.segments) {
    BT86_RETURN_IF_ERROR(
        mem.Write(segment.paddr, file.data() + segment.file_offset, segment.file_bytes));
    BT86_RETURN_IF_ERROR(
        mem.Fill(segment.paddr + segment.file_bytes, 0, segment.mem_bytes - segment.file_bytes));
  }
  for (size_t i = 0; i < modules.size(); ++i) {
    BT86_RETURN_IF_ERROR(mem.Write(module_starts[i], contents[i].data(), contents[i].size()));
  }
  BT86_RETURN_IF_ERROR(mem.Write(info.base(), info.bytes().data(), info.bytes().size()));

  // The machine state at entry (3.2).
  *out = BootState{};
  out->eip = image.entry;
  out->gpr[BootState::kEax] = kMultibootBootloaderMagic;
  out->gpr[BootState::kEbx] = kMultibootInfoAddress;
  out->eflags = 0x2;
  return Status::Ok();
}

}  // namespace bt86

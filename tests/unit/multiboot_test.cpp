// LoadMultiboot against the Multiboot 0.6.96 specification. Kernel images are
// built here byte by byte (ELF32 and a.out-kludge), and the boot information
// is read back from guest RAM at the offsets the specification's section 3.3
// gives, not through the loader's own constants.
#include "runtime/loaders/multiboot.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace bt86 {
namespace {

constexpr uint64_t kRamBytes = 4 << 20;
constexpr uint32_t kHeaderMagic = 0x1BADB002;
constexpr uint32_t kPageAlignModules = 1u << 0;
constexpr uint32_t kMemoryInfo = 1u << 1;
constexpr uint32_t kVideoMode = 1u << 2;
constexpr uint32_t kAddressFields = 1u << 16;

void Put16(std::vector<uint8_t>* bytes, size_t offset, uint16_t value) {
  if (bytes->size() < offset + 2) bytes->resize(offset + 2);
  (*bytes)[offset] = value & 0xff;
  (*bytes)[offset + 1] = value >> 8;
}

void Put32(std::vector<uint8_t>* bytes, size_t offset, uint32_t value) {
  Put16(bytes, offset, value & 0xffff);
  Put16(bytes, offset + 2, value >> 16);
}

/// magic, flags, checksum (3.1.1).
std::vector<uint8_t> Header(uint32_t flags) {
  std::vector<uint8_t> header;
  Put32(&header, 0, kHeaderMagic);
  Put32(&header, 4, flags);
  Put32(&header, 8, 0u - kHeaderMagic - flags);
  return header;
}

/// A header with the a.out kludge's address fields (3.1.3).
std::vector<uint8_t> HeaderWithAddresses(uint32_t flags, uint32_t header_addr, uint32_t load_addr,
                                         uint32_t load_end_addr, uint32_t bss_end_addr,
                                         uint32_t entry_addr) {
  std::vector<uint8_t> header = Header(flags | kAddressFields);
  Put32(&header, 12, header_addr);
  Put32(&header, 16, load_addr);
  Put32(&header, 20, load_end_addr);
  Put32(&header, 24, bss_end_addr);
  Put32(&header, 28, entry_addr);
  return header;
}

void PutBytes(std::vector<uint8_t>* file, size_t offset, const std::vector<uint8_t>& bytes) {
  if (file->size() < offset + bytes.size()) file->resize(offset + bytes.size());
  std::copy(bytes.begin(), bytes.end(), file->begin() + offset);
}

struct ElfSegment {
  uint32_t type = 1;  // PT_LOAD
  uint32_t file_offset = 0;
  uint32_t vaddr = 0;
  uint32_t paddr = 0;
  std::vector<uint8_t> data;  // p_filesz bytes.
  uint32_t memsz = 0;
  uint32_t flags = 5;  // PF_R | PF_X
};

/// An ELF32 file: header at 0, program headers at 52, segment bytes where they say.
struct ElfImage {
  uint8_t ei_class = 1;  // ELFCLASS32
  uint8_t ei_data = 1;   // ELFDATA2LSB
  uint16_t type = 2;     // ET_EXEC
  uint16_t machine = 3;  // EM_386
  uint32_t entry = 0;
  std::vector<ElfSegment> segments;

  std::vector<uint8_t> Build() const {
    std::vector<uint8_t> file = {0x7f, 'E', 'L', 'F', ei_class, ei_data, 1};
    Put16(&file, 16, type);
    Put16(&file, 18, machine);
    Put32(&file, 20, 1);  // e_version
    Put32(&file, 24, entry);
    Put32(&file, 28, 52);  // e_phoff
    Put16(&file, 40, 52);  // e_ehsize
    Put16(&file, 42, 32);  // e_phentsize
    Put16(&file, 44, segments.size());
    for (size_t i = 0; i < segments.size(); ++i) {
      const ElfSegment& s = segments[i];
      const size_t phdr = 52 + 32 * i;
      Put32(&file, phdr + 0, s.type);
      Put32(&file, phdr + 4, s.file_offset);
      Put32(&file, phdr + 8, s.vaddr);
      Put32(&file, phdr + 12, s.paddr);
      Put32(&file, phdr + 16, s.data.size());
      Put32(&file, phdr + 20, s.memsz);
      Put32(&file, phdr + 24, s.flags);
      Put32(&file, phdr + 28, 0x1000);
    }
    for (const ElfSegment& s : segments) PutBytes(&file, s.file_offset, s.data);
    return file;
  }
};

/// A kernel at 1 MiB: text [0x100000, 0x100100) holding the header, data
/// [0x101000, 0x101080) and bss up to 0x104000. Entry just past the header.
ElfImage StandardKernel(uint32_t header_flags = kPageAlignModules | kMemoryInfo) {
  ElfSegment text;
  text.file_offset = 0x1000;
  text.vaddr = text.paddr = 0x100000;
  text.data = Header(header_flags);
  for (int i = 0; text.data.size() < 0x100; ++i) text.data.push_back(static_cast<uint8_t>(i));
  text.memsz = 0x100;

  ElfSegment data;
  data.file_offset = 0x1100;
  data.vaddr = data.paddr = 0x101000;
  data.data.assign(0x80, 0x5a);
  data.memsz = 0x3000;
  data.flags = 6;  // PF_R | PF_W

  ElfImage image;
  image.entry = 0x10000c;
  image.segments = {text, data};
  return image;
}

class MultibootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "bt86_multiboot_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Status status = GuestMemory::Create(kRamBytes, &mem_);
    ASSERT_TRUE(status.ok()) << status.message();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteFile(const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return path;
  }

  Status Load(const std::vector<uint8_t>& kernel, const std::string& cmdline = "",
              const std::vector<MultibootModule>& modules = {}) {
    return LoadMultiboot(*mem_, WriteFile("kernel", kernel), cmdline, modules, &state_);
  }

  /// Expects a usage error mentioning `needle`, and guest RAM untouched.
  void ExpectRejected(const Status& status, const std::string& needle) {
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(status.code(), ExitStatus::kUsage);
    EXPECT_NE(status.message().find(needle), std::string::npos) << status.message();
    EXPECT_EQ(Read32(0x9000), 0u) << "boot information written despite the error";
    EXPECT_EQ(Read32(0x100000), 0u) << "kernel written despite the error";
  }

  uint32_t Read32(uint64_t paddr) {
    uint32_t value = 0;
    EXPECT_TRUE(mem_->Read(paddr, &value, 4).ok());
    return value;
  }
  uint64_t Read64(uint64_t paddr) {
    uint64_t value = 0;
    EXPECT_TRUE(mem_->Read(paddr, &value, 8).ok());
    return value;
  }
  std::string ReadString(uint64_t paddr) {
    return std::string(reinterpret_cast<const char*>(mem_->ram() + paddr));
  }
  std::vector<uint8_t> ReadBytes(uint64_t paddr, size_t size) {
    std::vector<uint8_t> bytes(size);
    EXPECT_TRUE(mem_->Read(paddr, bytes.data(), size).ok());
    return bytes;
  }

  std::string dir_;
  std::unique_ptr<GuestMemory> mem_;
  BootState state_;
};

TEST_F(MultibootTest, LoadsElfSegmentsAndZeroesBss) {
  ASSERT_TRUE(mem_->Fill(0x100000, 0xcc, 0x10000).ok());
  const ElfImage image = StandardKernel();
  Status status = Load(image.Build());
  ASSERT_TRUE(status.ok()) << status.message();

  EXPECT_EQ(ReadBytes(0x100000, 0x100), image.segments[0].data);
  EXPECT_EQ(ReadBytes(0x100100, 0xf00), std::vector<uint8_t>(0xf00, 0xcc));  // Between segments.
  EXPECT_EQ(ReadBytes(0x101000, 0x80), image.segments[1].data);
  EXPECT_EQ(ReadBytes(0x101080, 0x2f80), std::vector<uint8_t>(0x2f80, 0));  // bss.
  // Nothing past the bss.
  EXPECT_EQ(mem_->ram()[0x104000], 0xcc);
}

TEST_F(MultibootTest, EntryStateFollowsSection32) {
  Status status = Load(StandardKernel().Build());
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(state_.eip, 0x10000cu);
  EXPECT_EQ(state_.gpr[BootState::kEax], 0x2BADB002u);
  EXPECT_EQ(state_.gpr[BootState::kEbx], 0x9000u);
  EXPECT_EQ(state_.eflags, 0x2u);
  for (int reg : {BootState::kEcx, BootState::kEdx, BootState::kEsp, BootState::kEbp,
                  BootState::kEsi, BootState::kEdi}) {
    EXPECT_EQ(state_.gpr[reg], 0u) << "gpr " << reg;
  }
}

TEST_F(MultibootTest, BootInformationMatchesSection33) {
  const std::vector<uint8_t> initrd(0x1801, 0xa5);
  const std::vector<uint8_t> symbols = {1, 2, 3};
  const std::vector<MultibootModule> modules = {
      {WriteFile("initrd", initrd), "initrd root=/dev/ram0"},
      {WriteFile("symbols", symbols), ""},
  };
  Status status = Load(StandardKernel().Build(), "console=ttyS0 quiet", modules);
  ASSERT_TRUE(status.ok()) << status.message();

  const uint32_t mbi = state_.gpr[BootState::kEbx];
  ASSERT_EQ(mbi, kMultibootInfoAddress);
  // flags: mem (0), cmdline (2), mods (3), mmap (6), boot_loader_name (9).
  EXPECT_EQ(Read32(mbi + 0), 0x24du);
  EXPECT_EQ(Read32(mbi + 4), 639u);       // mem_lower: KiB below the EBDA.
  EXPECT_EQ(Read32(mbi + 8), 3u * 1024);  // mem_upper: KiB from 1 MiB to the end of RAM.
  EXPECT_EQ(Read32(mbi + 12), 0u);        // boot_device: flag 1 clear.
  EXPECT_EQ(ReadString(Read32(mbi + 16)), "console=ttyS0 quiet");

  ASSERT_EQ(Read32(mbi + 20), 2u);  // mods_count
  const uint32_t mods = Read32(mbi + 24);
  const uint32_t initrd_start = Read32(mods + 0);
  const uint32_t initrd_end = Read32(mods + 4);
  EXPECT_EQ(initrd_start, 0x104000u);  // The first page past the kernel's bss.
  EXPECT_EQ(initrd_end, initrd_start + initrd.size());
  EXPECT_EQ(ReadString(Read32(mods + 8)), "initrd root=/dev/ram0");
  EXPECT_EQ(Read32(mods + 12), 0u);
  EXPECT_EQ(ReadBytes(initrd_start, initrd.size()), initrd);
  const uint32_t symbols_start = Read32(mods + 16);
  EXPECT_EQ(symbols_start, 0x106000u);  // Page aligned after the first module.
  EXPECT_EQ(Read32(mods + 20), symbols_start + symbols.size());
  EXPECT_EQ(ReadString(Read32(mods + 24)), "");
  EXPECT_EQ(ReadBytes(symbols_start, symbols.size()), symbols);

  for (uint32_t offset = 28; offset < 44; offset += 4) EXPECT_EQ(Read32(mbi + offset), 0u);

  // mmap: mmap_addr points at the first entry's size field; each entry is
  // size (20), base_addr (u64), length (u64), type.
  ASSERT_EQ(Read32(mbi + 44), 4u * 24);  // mmap_length
  const uint32_t mmap = Read32(mbi + 48);
  struct Expected {
    uint64_t base, length;
    uint32_t type;
  };
  const Expected expected[] = {
      {0, 0x9fc00, 1},
      {0x9fc00, 0x400, 2},
      {0xf0000, 0x10000, 2},
      {0x100000, kRamBytes - 0x100000, 1},
  };
  for (int i = 0; i < 4; ++i) {
    const uint32_t entry = mmap + 24 * i;
    EXPECT_EQ(Read32(entry + 0), 20u) << "entry " << i;
    EXPECT_EQ(Read64(entry + 4), expected[i].base) << "entry " << i;
    EXPECT_EQ(Read64(entry + 12), expected[i].length) << "entry " << i;
    EXPECT_EQ(Read32(entry + 20), expected[i].type) << "entry " << i;
  }

  for (uint32_t offset = 52; offset < 64; offset += 4) EXPECT_EQ(Read32(mbi + offset), 0u);
  EXPECT_EQ(ReadString(Read32(mbi + 64)), "bt86");
  for (uint32_t offset = 68; offset < 88; offset += 4) EXPECT_EQ(Read32(mbi + offset), 0u);

  // Everything the info points to lies in the low boot information area.
  for (uint32_t pointer : {Read32(mbi + 16), mods, mmap, Read32(mbi + 64), Read32(mods + 8)}) {
    EXPECT_GE(pointer, mbi);
    EXPECT_LT(pointer, kMultibootInfoLimit);
  }
}

TEST_F(MultibootTest, CommandLineIsPassedExactlyEvenWhenEmpty) {
  ASSERT_TRUE(Load(StandardKernel().Build(), "").ok());
  EXPECT_EQ(ReadString(Read32(0x9000 + 16)), "");
  EXPECT_EQ(Read32(0x9000 + 20), 0u);  // No modules; the mods flag is still set.
  EXPECT_EQ(Read32(0x9000) & (1u << 3), 1u << 3);
}

TEST_F(MultibootTest, HigherHalfEntryIsTranslatedToPhysical) {
  ElfImage image = StandardKernel();
  for (ElfSegment& segment : image.segments) segment.vaddr += 0xc0000000;
  image.entry = 0xc010000c;
  Status status = Load(image.Build());
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(state_.eip, 0x10000cu);
  EXPECT_EQ(ReadBytes(0x100000, 0x100), image.segments[0].data);  // Loaded at p_paddr.
}

TEST_F(MultibootTest, VideoModeFlagIsAccepted) {
  ASSERT_TRUE(Load(StandardKernel(kPageAlignModules | kMemoryInfo | kVideoMode).Build()).ok());
  EXPECT_EQ(Read32(0x9000) & (3u << 11), 0u);  // No VBE or framebuffer information.
}

TEST_F(MultibootTest, OptionalFlagBitsAreIgnored) {
  EXPECT_TRUE(Load(StandardKernel(0xfffe0000).Build()).ok());
}

TEST_F(MultibootTest, NonLoadSegmentsAndEmptySegmentsAreSkipped) {
  ElfImage image = StandardKernel();
  ElfSegment note;
  note.type = 4;  // PT_NOTE, at an address that would otherwise be rejected.
  note.file_offset = 0x1180;
  note.paddr = 0xfffff000;
  note.data = {1, 2, 3, 4};
  note.memsz = 4;
  ElfSegment empty;
  empty.paddr = 0x9000;  // Inside the boot information, but loads nothing.
  image.segments.push_back(note);
  image.segments.push_back(empty);
  Status status = Load(image.Build());
  EXPECT_TRUE(status.ok()) << status.message();
}

TEST_F(MultibootTest, HeaderMayEndAtTheSearchLimit) {
  ElfImage image = StandardKernel();
  image.segments[0].file_offset = 8192 - 12;
  image.segments[1].file_offset = 0x2100;
  Status status = Load(image.Build());
  EXPECT_TRUE(status.ok()) << status.message();
}

TEST_F(MultibootTest, SegmentMayEndRightBelowTheBootInformation) {
  ElfImage image = StandardKernel();
  ElfSegment low;
  low.file_offset = 0x1200;
  low.vaddr = low.paddr = 0x8000;
  low.data = {0x90};
  low.memsz = 0x1000;
  image.segments.push_back(low);
  Status status = Load(image.Build());
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(mem_->ram()[0x8000], 0x90);
}

TEST_F(MultibootTest, AoutKludgeLoadsFromTheAddressFields) {
  // [0, 0x40) code, header at file offset 0x40, then data: all loaded at 1 MiB.
  std::vector<uint8_t> file(0x40, 0x90);
  PutBytes(&file, 0x40,
           HeaderWithAddresses(kMemoryInfo, 0x100040, 0x100000, 0, 0x102000, 0x100004));
  for (int i = 0; i < 0x100; ++i) file.push_back(static_cast<uint8_t>(i));
  ASSERT_TRUE(mem_->Fill(0x100000, 0xcc, 0x3000).ok());
  Status status = Load(file);
  ASSERT_TRUE(status.ok()) << status.message();

  EXPECT_EQ(ReadBytes(0x100000, file.size()), file);  // load_end_addr 0: the whole file.
  EXPECT_EQ(ReadBytes(0x100000 + file.size(), 0x2000 - file.size()),
            std::vector<uint8_t>(0x2000 - file.size(), 0));  // Up to bss_end_addr.
  EXPECT_EQ(mem_->ram()[0x102000], 0xcc);
  EXPECT_EQ(state_.eip, 0x100004u);
  EXPECT_EQ(state_.gpr[BootState::kEax], 0x2BADB002u);
  EXPECT_EQ(Read32(0x9000 + 20), 0u);
}

TEST_F(MultibootTest, AoutKludgeSkipsBytesBeforeLoadAddrAndStopsAtLoadEnd) {
  // header_addr - load_addr = 0x10: loading starts at file offset 0x40 - 0x10.
  std::vector<uint8_t> file(0x40, 0xee);
  PutBytes(&file, 0x30, {1, 2, 3, 4});
  PutBytes(&file, 0x40, HeaderWithAddresses(0, 0x200010, 0x200000, 0x200028, 0, 0x200000));
  PutBytes(&file, 0x60, std::vector<uint8_t>(0x20, 0x77));
  Status status = Load(file);
  ASSERT_TRUE(status.ok()) << status.message();

  std::vector<uint8_t> expected(file.begin() + 0x30, file.begin() + 0x58);
  EXPECT_EQ(ReadBytes(0x200000, 0x28), expected);
  EXPECT_EQ(mem_->ram()[0x200028], 0);  // load_end_addr is exclusive; no bss.
  EXPECT_EQ(mem_->ram()[0x1fffff], 0);
  EXPECT_EQ(state_.eip, 0x200000u);
}

TEST_F(MultibootTest, AddressFieldsWinOverElf) {
  // Same as QEMU and GRUB: with flag bit 16 the ELF headers are not consulted.
  ElfImage image = StandardKernel();
  std::vector<uint8_t> file = image.Build();
  PutBytes(&file, 0x1000, HeaderWithAddresses(0, 0x301000, 0x300000, 0, 0, 0x301020));
  Status status = Load(file);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(state_.eip, 0x301020u);
  EXPECT_EQ(ReadBytes(0x300000, 4), (std::vector<uint8_t>{0x7f, 'E', 'L', 'F'}));
  EXPECT_EQ(Read32(0x100000), 0u);
}

// Malformed files.

TEST_F(MultibootTest, MissingKernel) {
  ExpectRejected(LoadMultiboot(*mem_, dir_ + "/absent", "", {}, &state_), "cannot open");
}

TEST_F(MultibootTest, KernelIsADirectory) {
  ExpectRejected(LoadMultiboot(*mem_, dir_, "", {}, &state_), "not a regular file");
}

TEST_F(MultibootTest, TooShort) {
  ExpectRejected(Load({}), "too short");
  ExpectRejected(Load({0x02, 0xb0, 0xad, 0x1b, 0, 0, 0, 0}), "too short");
}

TEST_F(MultibootTest, NoHeader) {
  ExpectRejected(Load(std::vector<uint8_t>(0x4000, 0)), "no Multiboot header");
}

TEST_F(MultibootTest, HeaderPastTheFirst8KiB) {
  ElfImage image = StandardKernel();
  image.segments[0].file_offset = 8192 - 8;  // Starts inside, ends outside.
  image.segments[1].file_offset = 0x2100;
  ExpectRejected(Load(image.Build()), "no Multiboot header");
}

TEST_F(MultibootTest, UnalignedHeader) {
  ElfImage image = StandardKernel();
  image.segments[0].file_offset = 0x1002;
  image.segments[1].file_offset = 0x1200;
  ExpectRejected(Load(image.Build()), "no Multiboot header");
}

TEST_F(MultibootTest, BadChecksum) {
  std::vector<uint8_t> file = StandardKernel().Build();
  file[0x1008] ^= 1;
  ExpectRejected(Load(file), "bad checksum");
  ExpectRejected(Load(file), "offset 0x1000");
}

TEST_F(MultibootTest, UnsupportedRequiredFlag) {
  ExpectRejected(Load(StandardKernel(kMemoryInfo | (1u << 3)).Build()), "flags 0x8 of 0xa");
  ExpectRejected(Load(StandardKernel(1u << 15).Build()), "does not provide");
}

TEST_F(MultibootTest, NotElfWithoutAddressFields) {
  std::vector<uint8_t> file(0x100, 0);
  PutBytes(&file, 0x20, Header(kMemoryInfo));
  ExpectRejected(Load(file), "not an ELF file");
}

TEST_F(MultibootTest, Elf64) {
  ElfImage image = StandardKernel();
  image.ei_class = 2;
  ExpectRejected(Load(image.Build()), "not a 32-bit ELF");
}

TEST_F(MultibootTest, BigEndianElf) {
  ElfImage image = StandardKernel();
  image.ei_data = 2;
  ExpectRejected(Load(image.Build()), "not a little-endian ELF");
}

TEST_F(MultibootTest, SharedObject) {
  ElfImage image = StandardKernel();
  image.type = 3;  // ET_DYN
  ExpectRejected(Load(image.Build()), "not an executable ELF file (e_type 3");
}

TEST_F(MultibootTest, NotI386) {
  ElfImage image = StandardKernel();
  image.machine = 62;  // EM_X86_64
  ExpectRejected(Load(image.Build()), "not an i386 ELF file (e_machine 62");
}

TEST_F(MultibootTest, NoProgramHeaders) {
  std::vector<uint8_t> file = StandardKernel().Build();
  Put16(&file, 44, 0);
  ExpectRejected(Load(file), "no ELF program headers");
}

TEST_F(MultibootTest, ProgramHeadersPastEndOfFile) {
  std::vector<uint8_t> file = StandardKernel().Build();
  Put32(&file, 28, file.size() - 16);
  ExpectRejected(Load(file), "program headers");
  Put32(&file, 28, 0xffffffff);
  ExpectRejected(Load(file), "run past the end of the file");
}

TEST_F(MultibootTest, ProgramHeaderEntryTooSmall) {
  std::vector<uint8_t> file = StandardKernel().Build();
  Put16(&file, 42, 16);
  ExpectRejected(Load(file), "program headers of 16 bytes");
}

TEST_F(MultibootTest, FileSizeLargerThanMemorySize) {
  ElfImage image = StandardKernel();
  image.segments[1].memsz = 0x7f;
  ExpectRejected(Load(image.Build()), "program header 1 has p_filesz 0x80 > p_memsz 0x7f");
}

TEST_F(MultibootTest, SegmentBytesPastEndOfFile) {
  std::vector<uint8_t> file = StandardKernel().Build();
  Put32(&file, 52 + 32 + 4, file.size() - 0x7f);  // Program header 1's p_offset.
  ExpectRejected(Load(file), "past the end of the file");
  Put32(&file, 52 + 32 + 4, 0xffffff80);
  ExpectRejected(Load(file), "program header 1 asks for file bytes");
}

TEST_F(MultibootTest, SegmentOutsideRam) {
  ElfImage image = StandardKernel();
  image.segments[1].paddr = kRamBytes - 0x1000;
  ExpectRejected(Load(image.Build()), "outside guest RAM");
  image.segments[1].paddr = 0xfffff000;
  ExpectRejected(Load(image.Build()), "program header 1 [0xfffff000, 0x100002000)");
}

TEST_F(MultibootTest, SegmentOverlapsBootInformation) {
  ElfImage image = StandardKernel();
  image.segments[1].paddr = 0x8000;
  image.segments[1].memsz = 0x1001;
  ExpectRejected(Load(image.Build()), "overlaps the boot information");
  image.segments[1].paddr = 0x9010;
  ExpectRejected(Load(image.Build()), "overlaps the boot information");
}

TEST_F(MultibootTest, NoLoadableSegment) {
  ElfImage image = StandardKernel();
  for (ElfSegment& segment : image.segments) segment.type = 4;  // PT_NOTE
  ExpectRejected(Load(image.Build()), "no loadable (PT_LOAD)");
}

TEST_F(MultibootTest, AoutAddressFieldsTruncated) {
  std::vector<uint8_t> file = HeaderWithAddresses(0, 0x100000, 0x100000, 0, 0, 0x100000);
  file.resize(20);
  ExpectRejected(Load(file), "address fields run past");
}

TEST_F(MultibootTest, AoutLoadAddrAboveHeaderAddr) {
  ExpectRejected(Load(HeaderWithAddresses(0, 0x100000, 0x100004, 0, 0, 0x100000)),
                 "load_addr 0x100004 is above header_addr 0x100000");
}

TEST_F(MultibootTest, AoutHeaderAddrBeyondTheFileStart) {
  std::vector<uint8_t> file(0x10, 0);
  PutBytes(&file, 0x10, HeaderWithAddresses(0, 0x100020, 0x100000, 0, 0, 0x100000));
  ExpectRejected(Load(file), "exceeds the header's file offset");
}

TEST_F(MultibootTest, AoutLoadEndBelowLoadAddr) {
  ExpectRejected(Load(HeaderWithAddresses(0, 0x100000, 0x100000, 0xfffff, 0, 0x100000)),
                 "load_end_addr 0xfffff is below load_addr");
}

TEST_F(MultibootTest, AoutLoadEndPastEndOfFile) {
  ExpectRejected(Load(HeaderWithAddresses(0, 0x100000, 0x100000, 0x100021, 0, 0x100000)),
                 "past the end of the file");
}

TEST_F(MultibootTest, AoutBssEndBelowLoadEnd) {
  ExpectRejected(Load(HeaderWithAddresses(0, 0x100000, 0x100000, 0x100020, 0x10001f, 0x100000)),
                 "bss_end_addr 0x10001f is below the end of the loaded image");
}

TEST_F(MultibootTest, AoutOutsideRam) {
  ExpectRejected(Load(HeaderWithAddresses(0, 0x3ff000, 0x3ff000, 0, 0x400001, 0x3ff000)),
                 "a.out kludge image [0x3ff000, 0x400001) lies outside guest RAM");
}

TEST_F(MultibootTest, MissingModule) {
  ExpectRejected(Load(StandardKernel().Build(), "", {{dir_ + "/absent", "x"}}),
                 "cannot open multiboot module");
}

TEST_F(MultibootTest, ModuleDoesNotFitInRam) {
  const std::string big = WriteFile("big", std::vector<uint8_t>(kRamBytes - 0x104000 + 1));
  ExpectRejected(Load(StandardKernel().Build(), "", {{big, ""}}), "does not fit in guest RAM");
  const std::string huge = WriteFile("huge", std::vector<uint8_t>(kRamBytes + 1));
  ExpectRejected(Load(StandardKernel().Build(), "", {{huge, ""}}), "larger than guest RAM");
}

TEST_F(MultibootTest, ModuleMayEndAtTheEndOfRam) {
  const std::string fits = WriteFile("fits", std::vector<uint8_t>(kRamBytes - 0x104000, 7));
  Status status = Load(StandardKernel().Build(), "", {{fits, ""}});
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(mem_->ram()[kRamBytes - 1], 7);
}

TEST_F(MultibootTest, CommandLineTooLongForTheBootInformation) {
  ExpectRejected(Load(StandardKernel().Build(), std::string(0x9fc00 - 0x9000, 'x')),
                 "does not fit");
}

TEST_F(MultibootTest, NeedsOneMiBOfRam) {
  std::unique_ptr<GuestMemory> small;
  ASSERT_TRUE(GuestMemory::Create(0x80000, &small).ok());
  Status status =
      LoadMultiboot(*small, WriteFile("kernel", StandardKernel().Build()), "", {}, &state_);
  EXPECT_EQ(status.code(), ExitStatus::kUsage);
  EXPECT_NE(status.message().find("at least 1 MiB"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace bt86

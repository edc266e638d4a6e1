// MSBuild task (compiled by RoslynCodeTaskFactory, see Directory.Build.targets).
//
// Why: TorchSharp 0.107's libLibTorchSharp.so asks for symbol version GLIBCXX_3.4.32 (libstdc++ of GCC 13+),
// but Debian 12 ships libstdc++ only up to GLIBCXX_3.4.30, so the loader refuses the library and every torch
// call throws TypeInitializationException. The only symbol bound to that version is the marker
// _ZSt21ios_base_library_initv, which no relocation uses. Marking the version requirement weak (VER_FLG_WEAK)
// in the library's SHT_GNU_verneed section makes the loader accept a libstdc++ that lacks it.
//
// The task patches copies in the build/publish output only, never the NuGet cache, and only when the
// system libstdc++ lacks the required version. It is idempotent.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class PatchGlibcxxRequirement : Task
{
    /// <summary>Folders searched (recursively) for the library to patch.</summary>
    [Required] public string[] Directories { get; set; } = Array.Empty<string>();

    /// <summary>File name of the library to patch.</summary>
    public string LibraryName { get; set; } = "libLibTorchSharp.so";

    /// <summary>The symbol version to make weak.</summary>
    public string Version { get; set; } = "GLIBCXX_3.4.32";

    /// <summary>Candidate paths of the system libstdc++ (the first that exists is read).</summary>
    public string[] SystemLibStdCxx { get; set; } = new[]
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
    };

    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlagWeak = 0x2;

    public override bool Execute()
    {
        string? system = null;
        foreach (var candidate in SystemLibStdCxx)
            if (File.Exists(candidate)) { system = candidate; break; }
        if (system != null && ContainsAscii(File.ReadAllBytes(system), Version + "\0"))
        {
            Log.LogMessage(MessageImportance.Low, $"{system} provides {Version}; {LibraryName} left as it is.");
            return true;
        }

        foreach (var dir in Directories)
        {
            if (string.IsNullOrEmpty(dir) || !System.IO.Directory.Exists(dir)) continue;
            foreach (var file in System.IO.Directory.EnumerateFiles(dir, LibraryName, SearchOption.AllDirectories))
            {
                try
                {
                    var result = Patch(file, Version);
                    Log.LogMessage(MessageImportance.Normal, $"{file}: {result}");
                }
                catch (Exception e)
                {
                    Log.LogError($"Could not patch {file} ({Version} requirement): {e.Message}");
                    return false;
                }
            }
        }
        return !Log.HasLoggedErrors;
    }

    /// <summary>Sets VER_FLG_WEAK on the vernaux entry named <paramref name="version"/>. Returns what it did.</summary>
    public static string Patch(string path, string version)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2) throw new InvalidDataException("not a 64-bit ELF file");
        if (elf[5] != 1) throw new InvalidDataException("not a little-endian ELF file");

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        bool changed = false, found = false;
        for (int i = 0; i < shnum; i++)
        {
            long sh = checked((long)shoff + (long)i * shentsize);
            uint type = BitConverter.ToUInt32(elf, (int)sh + 4);
            if (type != ShtGnuVerneed) continue;
            long offset = (long)BitConverter.ToUInt64(elf, (int)sh + 0x18);
            uint link = BitConverter.ToUInt32(elf, (int)sh + 0x28);
            long strSh = checked((long)shoff + (long)link * shentsize);
            long strOff = (long)BitConverter.ToUInt64(elf, (int)strSh + 0x18);

            long vn = offset;
            while (true)
            {
                ushort cnt = BitConverter.ToUInt16(elf, (int)vn + 2);
                uint aux = BitConverter.ToUInt32(elf, (int)vn + 8);
                uint next = BitConverter.ToUInt32(elf, (int)vn + 12);
                long va = vn + aux;
                for (int j = 0; j < cnt; j++)
                {
                    ushort flags = BitConverter.ToUInt16(elf, (int)va + 4);
                    uint name = BitConverter.ToUInt32(elf, (int)va + 8);
                    uint vnaNext = BitConverter.ToUInt32(elf, (int)va + 12);
                    if (ReadCString(elf, strOff + name) == version)
                    {
                        found = true;
                        if ((flags & VerFlagWeak) == 0)
                        {
                            BitConverter.GetBytes((ushort)(flags | VerFlagWeak)).CopyTo(elf, (int)va + 4);
                            changed = true;
                        }
                    }
                    if (vnaNext == 0) break;
                    va += vnaNext;
                }
                if (next == 0) break;
                vn += next;
            }
        }
        if (!found) return $"no {version} requirement (nothing to do)";
        if (!changed) return $"{version} requirement already weak";
        string tmp = path + ".patching";
        File.WriteAllBytes(tmp, elf);
        File.Copy(tmp, path, overwrite: true);
        File.Delete(tmp);
        return $"marked the {version} requirement weak";
    }

    private static string ReadCString(byte[] data, long at)
    {
        int end = (int)at;
        while (end < data.Length && data[end] != 0) end++;
        return Encoding.ASCII.GetString(data, (int)at, end - (int)at);
    }

    private static bool ContainsAscii(byte[] haystack, string needle)
    {
        byte[] n = Encoding.ASCII.GetBytes(needle);
        for (int i = 0; i + n.Length <= haystack.Length; i++)
        {
            int k = 0;
            while (k < n.Length && haystack[i + k] == n[k]) k++;
            if (k == n.Length) return true;
        }
        return false;
    }
}

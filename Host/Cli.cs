using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;
using RlActors.Host.Configuration;

namespace RlActors.Host;

/// <summary>Maps failures to exit codes: bad input 2, runtime failure 1, interrupted 130 (SIGINT) or 143 (SIGTERM).</summary>
public static class Cli
{
    /// <summary>The exit code of an interrupted command (set by the entry point from the signal received).</summary>
    public static Func<int> InterruptedExitCode { get; set; } = () => Interrupts.SigintExitCode;

    /// <summary>Runs <paramref name="body"/>, printing one clear line on failure.</summary>
    public static async Task<int> Guard(Func<Task<int>> body)
    {
        try { return await body(); }
        catch (ConfigError e)
        {
            await Console.Error.WriteLineAsync($"error: {e.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("interrupted");
            return InterruptedExitCode();
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync($"failed: {Describe(e)}");
            return 1;
        }
    }

    /// <summary>A failure as one line: this project's own exceptions carry messages written for users, so they are
    /// shown as they are; anything else (a bug, a library's error) keeps its type name, which is what a bug report needs.</summary>
    public static string Describe(Exception e) =>
        e.GetType().Namespace?.StartsWith("RlActors", StringComparison.Ordinal) == true ? e.Message : $"{e.GetType().Name}: {e.Message}";

    /// <summary>
    /// Gives every number option of <paramref name="command"/> and its subcommands a parser whose error names the option
    /// and the value as the user wrote them (<c>--port abc: expected a whole number</c>) instead of System.CommandLine's
    /// "as expected type 'System.Nullable`1[System.Int32]'". Options of other types keep their parsers.
    /// </summary>
    public static void UseUserWordsForNumbers(Command command)
    {
        foreach (var option in command.Options)
        {
            switch (option)
            {
                case Option<int> o when o.CustomParser is null: o.CustomParser = r => Number<int>(r, "a whole number"); break;
                case Option<int?> o when o.CustomParser is null: o.CustomParser = r => Number<int>(r, "a whole number"); break;
                case Option<long> o when o.CustomParser is null: o.CustomParser = r => Number<long>(r, "a whole number"); break;
                case Option<long?> o when o.CustomParser is null: o.CustomParser = r => Number<long>(r, "a whole number"); break;
                case Option<ulong> o when o.CustomParser is null: o.CustomParser = r => Number<ulong>(r, "a whole number >= 0"); break;
                case Option<double> o when o.CustomParser is null: o.CustomParser = r => Number<double>(r, "a number, e.g. 0.5"); break;
            }
        }
        foreach (var sub in command.Subcommands) UseUserWordsForNumbers(sub);
    }

    /// <summary>The value of a number option's token; a bad one is a parse error "--option value: expected ...".</summary>
    private static T Number<T>(ArgumentResult result, string expected) where T : struct, INumber<T>
    {
        string value = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        bool whole = typeof(T) != typeof(double);
        if (T.TryParse(value, whole ? NumberStyles.Integer : NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed)) return parsed;
        string option = result.Parent is OptionResult o ? o.IdentifierToken?.Value ?? o.Option.Name : result.Argument.Name;
        // A whole number that does not fit (e.g. --port 99999999999) is out of range rather than "not a whole number".
        bool outOfRange = whole && BigInteger.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var big)
                          && !(typeof(T) == typeof(ulong) && big < 0);
        result.AddError(outOfRange ? $"{option} {value}: out of range" : $"{option} {value}: expected {expected}");
        return default;
    }

    /// <summary>Makes a path argument's parse fail with "PATH is a folder ..." when it names a folder: reading it as a
    /// file would say "file not found" of a path that is there.</summary>
    public static void RejectFolders(Argument argument, string expected)
    {
        argument.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
                if (Directory.Exists(token.Value))
                    result.AddError($"{argument.Name} {token.Value}: is a folder; expected {expected}");
        });
    }

    /// <summary>
    /// The one line printed for a command line that does not parse: an unknown command is named with the commands there
    /// are (and the closest one, when it looks like a typo) instead of "Required command was not provided."; other errors
    /// (already in the user's words) are joined, then where to find the usage.
    /// </summary>
    public static string ParseErrorMessage(ParseResult parse, RootCommand root, IReadOnlyList<string> args)
    {
        var commands = root.Subcommands.Select(c => c.Name).ToList();
        if (parse.CommandResult.Command == root)
        {
            // Nothing parsed past the root: no command, an unknown one, or an option before any command.
            string list = $"the commands are {string.Join(", ", commands)} (rlactors --help describes them)";
            if (args.Count == 0) return $"no command given; {list}";
            if (args[0].StartsWith('-')) return $"unknown option '{args[0]}' (options come after the command); {list}";
            string? closest = Closest(args[0], commands);
            return $"unknown command '{args[0]}'" + (closest is null ? "" : $" (did you mean '{closest}'?)") + $"; {list}";
        }
        return string.Join("; ", parse.Errors.Select(e => e.Message.TrimEnd('.')).Distinct()) +
               $" (rlactors {parse.CommandResult.Command.Name} --help shows the usage)";
    }

    /// <summary>The candidate nearest to <paramref name="word"/> when it is a likely typo of it (a prefix, or at most two
    /// edits away), else null.</summary>
    private static string? Closest(string word, IReadOnlyList<string> candidates)
    {
        string w = word.ToLowerInvariant();
        var prefixed = candidates.Where(c => c.StartsWith(w, StringComparison.Ordinal) || w.StartsWith(c, StringComparison.Ordinal)).ToList();
        if (w.Length >= 2 && prefixed.Count == 1) return prefixed[0];
        var (best, distance) = candidates.Select(c => (c, Edits(w, c))).MinBy(x => x.Item2);
        return distance <= Math.Min(2, Math.Max(1, w.Length / 3)) ? best : null;
    }

    /// <summary>Levenshtein distance: insertions, deletions and substitutions turning <paramref name="a"/> into <paramref name="b"/>.</summary>
    private static int Edits(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }
}

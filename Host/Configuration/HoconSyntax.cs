using System.Text;

namespace RlActors.Host.Configuration;

/// <summary>A syntax error in HOCON text, at a 1-based line and column.</summary>
public sealed record HoconProblem(int Line, int Column, string Message);

/// <summary>An <c>include</c> statement: its span in the text, the file it names and where it starts.</summary>
internal sealed record HoconInclude(int Start, int End, string Path, int Line, int Column);

/// <summary>
/// A strict syntax check of HOCON text, run before Akka's parser (which is lenient: a stray <c>}</c> ends the file
/// quietly, an unclosed <c>{</c>, <c>[</c> or <c>"</c> is accepted, <c>,,</c> is reported by character offset only).
/// It tokenizes strings (triple-quoted included), comments (<c>#</c>, <c>//</c>), braces and brackets (with a stack),
/// separators and commas, and finds <c>include</c> statements, which <see cref="Expand"/> inlines.
/// </summary>
public static class HoconSyntax
{
    private const int MaxIncludeDepth = 16;

    /// <summary>The first syntax error of <paramref name="text"/>, or null when there is none.</summary>
    public static HoconProblem? Check(string text) => new Scanner(text).Run().Problem;

    /// <summary>
    /// Checks <paramref name="text"/> (named <paramref name="origin"/>) and replaces every <c>include "file"</c> by that
    /// file's text, checked and expanded the same way; paths are relative to the including file's folder
    /// (<paramref name="baseDirectory"/>). A syntax error, or an include of a missing file, is a <see cref="ConfigError"/>
    /// <c>origin:line:column: ...</c>. The result has no includes, so it can be stored and parsed again anywhere.
    /// </summary>
    public static string Expand(string text, string origin, string baseDirectory) =>
        Expand(text, origin, baseDirectory, [], 0);

    private static string Expand(string text, string origin, string baseDirectory, HashSet<string> chain, int depth)
    {
        var scan = new Scanner(text).Run();
        if (scan.Problem is { } p) throw new ConfigError($"{origin}:{p.Line}:{p.Column}: {p.Message}");
        if (scan.Includes.Count == 0) return text;
        var result = new StringBuilder();
        int at = 0;
        foreach (var inc in scan.Includes)
        {
            string where = $"{origin}:{inc.Line}:{inc.Column}: include \"{inc.Path}\"";
            string full = Path.GetFullPath(Path.Combine(baseDirectory, inc.Path));
            if (!File.Exists(full))
                throw new ConfigError($"{where}: no such file (include paths are relative to the including file's folder: looked for {full})");
            if (chain.Contains(full) || depth >= MaxIncludeDepth)
                throw new ConfigError($"{where}: includes itself (directly or through other includes)");
            string innerOrigin = Path.Combine(Path.GetDirectoryName(origin) ?? "", inc.Path);
            string inner = Expand(File.ReadAllText(full), innerOrigin, Path.GetDirectoryName(full)!, [.. chain, full], depth + 1);
            result.Append(text, at, inc.Start - at).Append('\n').Append(WithoutRootBraces(inner)).Append('\n');
            at = inc.End;
        }
        return result.Append(text, at, text.Length - at).ToString();
    }

    /// <summary>The body of a root object written with braces (<c>{ a = 1 }</c> gives <c> a = 1 </c>), else the text.</summary>
    private static string WithoutRootBraces(string text)
    {
        var scan = new Scanner(text).Run();
        return scan.RootBraces is var (open, close) ? text[(open + 1)..close] : text;
    }

    private readonly record struct ScanResult(HoconProblem? Problem, List<HoconInclude> Includes, (int Open, int Close)? RootBraces);

    /// <summary>What the previous significant token was (whitespace and comments are not tokens).</summary>
    private enum Last { Start, Open, Comma, Separator, Value }

    private sealed class Scanner(string text)
    {
        private readonly Stack<(char Open, int Index, int Line, int Column, bool Root)> open = new();
        private readonly List<HoconInclude> includes = [];
        private int i, line = 1, column = 1;
        private Last last = Last.Start;
        private bool newlineSinceLast;
        private int rootOpen = -1, rootClose = -1;
        private (int Line, int Column) separatorAt;

        private char At(int k) => k < text.Length ? text[k] : '\0';

        private void Advance()
        {
            if (text[i] == '\n') { line++; column = 1; }
            else column++;
            i++;
        }

        private static HoconProblem Problem(int line, int column, string message) => new(line, column, message);

        public ScanResult Run()
        {
            var problem = Scan();
            return new ScanResult(problem, includes, rootOpen >= 0 && rootClose >= 0 ? (rootOpen, rootClose) : null);
        }

        private HoconProblem? Scan()
        {
            while (i < text.Length)
            {
                char c = text[i];
                if (c == '\n') { newlineSinceLast = true; Advance(); continue; }
                if (char.IsWhiteSpace(c) || c == '\uFEFF') { Advance(); continue; }
                if (c == '#' || (c == '/' && At(i + 1) == '/'))
                {
                    while (i < text.Length && text[i] != '\n') Advance();
                    continue;
                }
                int tokLine = line, tokColumn = column;
                if (rootClose >= 0)
                    return Problem(tokLine, tokColumn, $"'{Show(c)}' after the '}}' that closes the root object (line {Line(rootClose)})");
                if (last == Last.Separator && c is '}' or ']' or ',')
                    return Problem(separatorAt.Line, separatorAt.Column, "a key with no value after its '=' or ':'");
                HoconProblem? p = c switch
                {
                    '{' or '[' => Open(c),
                    '$' when At(i + 1) == '{' => Open('$'),
                    '}' or ']' => Close(c),
                    ',' => Comma(),
                    '"' => QuotedString(out _),
                    '=' or ':' => Separator(1),
                    '+' when At(i + 1) == '=' => Separator(2),
                    _ => Unquoted(),
                };
                if (p is not null) return p;
                newlineSinceLast = false;
            }
            if (last == Last.Separator)
                return Problem(separatorAt.Line, separatorAt.Column, "a key with no value after its '=' or ':' at the end of the text");
            if (open.Count > 0)
            {
                var o = open.Peek();
                string what = o.Open == '$' ? "'${'" : $"'{o.Open}'";
                return Problem(o.Line, o.Column, $"{what} is never closed (the text ends first)");
            }
            return null;
        }

        private int Line(int index) => text[..index].Count(ch => ch == '\n') + 1;

        private static string Show(char c) => c == '\n' ? "\\n" : c.ToString();

        private HoconProblem? Open(char c)
        {
            bool root = c == '{' && last == Last.Start && open.Count == 0;
            if (root) rootOpen = i;
            open.Push((c, i, line, column, root));
            Advance();
            if (c == '$') Advance();
            last = Last.Open;
            return null;
        }

        private HoconProblem? Close(char c)
        {
            if (open.Count == 0)
                return Problem(line, column, $"'{c}' closes nothing (no '{(c == '}' ? '{' : '[')}' is open here)");
            var o = open.Pop();
            char expected = o.Open == '[' ? ']' : '}';
            if (c != expected)
                return Problem(line, column, $"'{c}' where '{expected}' was expected, to close the '{(o.Open == '$' ? "${" : o.Open.ToString())}' of line {o.Line}, column {o.Column}");
            if (o.Root) rootClose = i;
            Advance();
            last = Last.Value;
            return null;
        }

        private HoconProblem? Comma()
        {
            if (last == Last.Comma) return Problem(line, column, "',,': two commas with nothing between them");
            if (last is Last.Start or Last.Open) return Problem(line, column, "',' with nothing before it");
            Advance();
            last = Last.Comma;
            return null;
        }

        private HoconProblem? Separator(int length)
        {
            separatorAt = (line, column);
            for (int k = 0; k < length; k++) Advance();
            last = Last.Separator;
            return null;
        }

        /// <summary>A "..." or """...""" string starting at <see cref="i"/>; <paramref name="value"/> is its text.</summary>
        private HoconProblem? QuotedString(out string value)
        {
            int startLine = line, startColumn = column;
            var sb = new StringBuilder();
            if (At(i + 1) == '"' && At(i + 2) == '"')
            {
                for (int k = 0; k < 3; k++) Advance();
                while (i < text.Length)
                {
                    if (text[i] == '"' && At(i + 1) == '"' && At(i + 2) == '"')
                    {
                        while (At(i + 3) == '"') { sb.Append('"'); Advance(); } // """"x"""" ends with the last three quotes
                        for (int k = 0; k < 3; k++) Advance();
                        value = sb.ToString();
                        last = Last.Value;
                        return null;
                    }
                    sb.Append(text[i]);
                    Advance();
                }
                value = "";
                return Problem(startLine, startColumn, "'\"\"\"' string is never closed (the text ends first)");
            }
            Advance();
            while (i < text.Length && text[i] != '\n')
            {
                char ch = text[i];
                if (ch == '"')
                {
                    Advance();
                    value = sb.ToString();
                    last = Last.Value;
                    return null;
                }
                if (ch == '\\' && i + 1 < text.Length && text[i + 1] != '\n')
                {
                    Advance();
                    sb.Append(text[i] switch { 'n' => '\n', 't' => '\t', 'r' => '\r', 'b' => '\b', 'f' => '\f', var e => e });
                }
                else sb.Append(ch);
                Advance();
            }
            value = "";
            return Problem(startLine, startColumn, "'\"' string is never closed on its line");
        }

        private static bool EndsUnquoted(char c, char next) =>
            char.IsWhiteSpace(c) || c is '{' or '}' or '[' or ']' or ',' or '=' or ':' or '"' or '#' ||
            (c == '/' && next == '/') || (c == '$' && next == '{') || (c == '+' && next == '=');

        private HoconProblem? Unquoted()
        {
            int start = i, startLine = line, startColumn = column;
            bool keyPosition = last is Last.Start or Last.Open or Last.Comma || (newlineSinceLast && last != Last.Separator);
            bool inList = open.Count > 0 && open.Peek().Open == '[';
            while (i < text.Length && !EndsUnquoted(text[i], At(i + 1))) Advance();
            last = Last.Value;
            if (text[start..i] == "include" && keyPosition && !inList)
                return Include(start, startLine, startColumn);
            return null;
        }

        /// <summary>After the word <c>include</c>: <c>"path"</c>, <c>file("path")</c> or <c>required(...)</c> of either.</summary>
        private HoconProblem? Include(int start, int startLine, int startColumn)
        {
            const string form = "include takes a quoted file name: include \"common.conf\" (or file(\"...\"), required(\"...\"))";
            void SkipSpaces() { while (i < text.Length && text[i] is ' ' or '\t') Advance(); }
            bool Word(string w)
            {
                if (string.CompareOrdinal(text, i, w, 0, w.Length) != 0) return false;
                for (int k = 0; k < w.Length; k++) Advance();
                SkipSpaces();
                return true;
            }
            bool Char(char ch)
            {
                SkipSpaces();
                if (At(i) != ch) return false;
                Advance();
                SkipSpaces();
                return true;
            }
            SkipSpaces();
            int closers = 0;
            if (Word("required(")) closers++;
            if (Word("url(") || Word("classpath("))
                return Problem(startLine, startColumn, "only files can be included (include \"file.conf\"), not url(...) or classpath(...)");
            if (Word("file(")) closers++;
            if (At(i) != '"') return Problem(startLine, startColumn, form);
            var p = QuotedString(out string path);
            if (p is not null) return p;
            for (int k = 0; k < closers; k++)
                if (!Char(')')) return Problem(line, column, $"')' expected to close the include of line {startLine}, column {startColumn}");
            if (path.Length == 0) return Problem(startLine, startColumn, "include of an empty file name");
            includes.Add(new HoconInclude(start, i, path, startLine, startColumn));
            last = Last.Value;
            return null;
        }
    }
}

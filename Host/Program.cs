using System.CommandLine;
using RlActors.Host;
using RlActors.Host.Configuration;

var setOption = new Option<string[]>("--set")
{
    Description = "Override a key of the experiment file, e.g. --set grpo.steps=100 (repeatable)",
    AllowMultipleArgumentsPerToken = false,
    DefaultValueFactory = _ => [],
};
var stepsOption = new Option<int?>("--steps") { Description = "Number of GRPO steps (overrides grpo.steps)" };
var outOption = new Option<string?>("--out") { Description = "Output folder (default: runs/<name>/<timestamp>)" };
var nameOption = new Option<string?>("--name") { Description = "Experiment name (overrides the file's name key)" };
var fileArgument = new Argument<string>("experiment-file") { Description = "HOCON experiment file, e.g. examples/arithmetic-grpo.conf" };

var run = new Command("run", "Run an experiment to the end: SFT warm-up, then GRPO, printing per-step metrics and writing metrics.jsonl")
{
    fileArgument, nameOption, stepsOption, setOption, outOption,
};
run.SetAction((pr, ct) =>
{
    var overrides = (pr.GetValue(setOption) ?? []).ToList();
    if (pr.GetValue(stepsOption) is int steps) overrides.Add($"grpo.steps={steps}");
    if (pr.GetValue(nameOption) is string name) overrides.Add($"name={name}");
    return Cli.Guard(() => LibraryRun.Execute(pr.GetValue(fileArgument)!, overrides, pr.GetValue(outOption), Console.Out, ct));
});

var seedsOption = new Option<string>("--seeds") { Description = "Comma-separated seeds, e.g. 1,2,3", DefaultValueFactory = _ => "1,2,3" };
var reportOption = new Option<string>("--report") { Description = "Folder for the Markdown table and PNG curves", DefaultValueFactory = _ => "docs/learning" };
var sweepFile = new Argument<string>("experiment-file") { Description = "HOCON experiment file" };
var sweepSet = new Option<string[]>("--set") { Description = "Override a key (repeatable)", DefaultValueFactory = _ => [] };
var sweep = new Command("sweep", "Run an experiment over several seeds and write a table and learning curves (evidence runs)")
{
    sweepFile, seedsOption, sweepSet, reportOption,
};
sweep.SetAction((pr, ct) => Cli.Guard(() =>
{
    var seeds = new List<ulong>();
    foreach (var part in pr.GetValue(seedsOption)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        seeds.Add(ulong.TryParse(part, out var s) ? s : throw new ConfigError($"--seeds: '{part}' is not a non-negative integer"));
    return Sweep.Execute(pr.GetValue(sweepFile)!, seeds, pr.GetValue(sweepSet) ?? [], pr.GetValue(reportOption)!, Console.Out, ct);
}));

var keys = new Command("keys", "List every key an experiment file may set, with its meaning");
keys.SetAction(_ =>
{
    foreach (var (k, doc) in ExperimentFile.Keys) Console.WriteLine($"{k,-24} {doc}");
    return 0;
});

var root = new RootCommand("rlactors: actor-model reinforcement learning on Akka.NET and TorchSharp") { run, sweep, keys };
var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var e in parse.Errors) Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine("Run with --help for usage.");
    return 2;
}
return await parse.InvokeAsync();

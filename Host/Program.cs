using System.CommandLine;
using RlActors.Host;
using RlActors.Host.Configuration;
using RlActors.Host.Evidence;
using RlActors.Host.Kinds;

var setOption = new Option<string[]>("--set")
{
    Description = "Override a key of the experiment file, e.g. --set grpo.steps=100 (repeatable)",
    AllowMultipleArgumentsPerToken = false,
    DefaultValueFactory = _ => [],
};
var stepsOption = new Option<int?>("--steps") { Description = "Total steps: GRPO steps (grpo.steps), SGD steps of a kind = \"ccl\" experiment (ccl.steps), or RL steps of a kind = \"flow\" experiment (flow.steps)" };
var outOption = new Option<string?>("--out") { Description = "Output folder (default: runs/<name>/<timestamp>)" };
var nameOption = new Option<string?>("--name") { Description = "Experiment name (overrides the file's name key)" };
var fileArgument = new Argument<string>("experiment-file") { Description = "HOCON experiment file, e.g. examples/arithmetic-grpo.conf" };

var portOption = new Option<int?>("--port") { Description = "TCP port of this cluster node (default: a free port)" };
var hostnameOption = new Option<string>("--hostname") { Description = "Address to bind", DefaultValueFactory = _ => "127.0.0.1" };
var publicHostnameOption = new Option<string?>("--public-hostname") { Description = "Address other nodes use to reach this one (default: --hostname)" };

List<string> Overrides(ParseResult pr, bool withSteps = true)
{
    var overrides = (pr.GetValue(setOption) ?? []).ToList();
    if (withSteps && pr.GetValue(stepsOption) is int steps) overrides.Add($"grpo.steps={steps}");
    if (pr.GetValue(nameOption) is string name) overrides.Add($"name={name}");
    return overrides;
}

// run, resume and node stop gracefully on SIGINT/SIGTERM (checkpoint, journal, leave the cluster): they get their own signal
// handling (Interrupts) instead of System.CommandLine's, which exits 2 s after the signal whatever the command is doing.
Interrupts? interrupts = null;
CancellationToken Graceful() => interrupts?.Token ?? CancellationToken.None;

var tlsOption = new Option<string?>("--tls-certificate")
{
    Description = "PKCS#12 (.pfx) certificate every node of the cluster shares: remoting runs over mutual TLS (password in $RLACTORS_TLS_PASSWORD; " +
                  "a cluster secret in $RLACTORS_CLUSTER_SECRET makes nodes prove it too; docs/runtime.md, \"Securing a multi-machine cluster\")",
};
var weightsPortOption = new Option<int?>("--weights-port")
{
    Description = "TCP port of this host's weight server, from which worker nodes fetch weights too large for a remote message (default: a free port; fix it to open it in a firewall)",
};
var storeOption = new Option<string?>("--store") { Description = "Experiment store: sqlite:PATH (default sqlite:runs/experiments.db) or a PostgreSQL URI / connection string" };
var run = new Command("run", "Launch a cluster host (seed node, all roles) and run the experiment to the end on the actor runtime. " +
    "SIGINT (Ctrl+C) or SIGTERM stops it at the next step boundary after checkpointing the last completed step (exit 130 or 143); 'resume' continues it")
{
    fileArgument, nameOption, stepsOption, setOption, portOption, hostnameOption, publicHostnameOption, outOption, storeOption, tlsOption, weightsPortOption,
};
run.SetAction((pr, _) => Cli.Guard(() => ClusterRun.Run(new ClusterRun.RunArgs(pr.GetValue(fileArgument)!, Overrides(pr, withSteps: false),
    pr.GetValue(portOption), pr.GetValue(hostnameOption)!, pr.GetValue(publicHostnameOption), pr.GetValue(outOption), pr.GetValue(storeOption),
    pr.GetValue(stepsOption), pr.GetValue(tlsOption), pr.GetValue(weightsPortOption)), Console.Out, Graceful())));

var train = new Command("train", "Run an experiment with the bare library loop (no actors, one process): the baseline the runtime is measured against")
{
    fileArgument, nameOption, stepsOption, setOption, outOption,
};
train.SetAction((pr, ct) => Cli.Guard(() => LibraryRun.Execute(pr.GetValue(fileArgument)!, Overrides(pr), pr.GetValue(outOption), Console.Out, ct)));

var seedOption = new Option<string>("--seed") { Description = "HOST:PORT of the running host (printed by 'run')", Required = true };
var rolesOption = new Option<string>("--roles") { Description = "Comma-separated roles: sampler, reward, voter (CAPO critiques), explorer (flow experiments)", DefaultValueFactory = _ => "sampler,reward" };
var votersOption = new Option<int>("--voters") { Description = "GenPRM voter actors on this node (voter role)", DefaultValueFactory = _ => 4 };
var explorersOption = new Option<int>("--explorers") { Description = "Branch-point explorer actors on this node (explorer role)", DefaultValueFactory = _ => 1 };
var pluginOption = new Option<string[]>("--plugin") { Description = "Reward plug-in assembly to make available on this node (repeatable)", DefaultValueFactory = _ => [] };
var samplersOption = new Option<int>("--samplers") { Description = "Sampler actors on this node", DefaultValueFactory = _ => 1 };
var deviceOption = new Option<string>("--device") { Description = "Torch device of the samplers: cpu or cuda", DefaultValueFactory = _ => "cpu" };
var rejoinOption = new Option<bool>("--rejoin") { Description = "When the host leaves (a stop, a crash), wait and join it again when it is back (e.g. 'resume' with the same --port), until Ctrl+C" };
var node = new Command("node", "Launch a worker node that joins a running host and takes work for its roles until the host leaves (with --rejoin: until Ctrl+C)")
{
    seedOption, rolesOption, portOption, hostnameOption, publicHostnameOption, pluginOption, samplersOption, deviceOption, votersOption, explorersOption, rejoinOption, tlsOption,
};
node.SetAction((pr, ct) => Cli.Guard(() => ClusterRun.Node(new ClusterRun.NodeArgs(pr.GetValue(seedOption)!,
    pr.GetValue(rolesOption)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
    pr.GetValue(portOption), pr.GetValue(hostnameOption)!, pr.GetValue(publicHostnameOption), pr.GetValue(pluginOption) ?? [],
    pr.GetValue(samplersOption), pr.GetValue(deviceOption)!, pr.GetValue(votersOption), pr.GetValue(explorersOption), pr.GetValue(rejoinOption),
    pr.GetValue(tlsOption)), Console.Out, Graceful())));

var resumeName = new Argument<string>("name") { Description = "Experiment name (see 'list')" };
var resumeStore = new Option<string?>("--store") { Description = "Experiment store (default sqlite:runs/experiments.db)" };
var resumeSteps = new Option<long?>("--steps") { Description = "New total number of steps, larger than the latest checkpoint's and kept for later resumes (GRPO steps, SGD steps of a ccl experiment, RL steps of a flow experiment; default: the experiment's current total)" };
var resume = new Command("resume", "Continue an experiment (stopped, failed or killed) from its latest valid checkpoint up to its total steps. " +
    "SIGINT or SIGTERM stops it like 'run'")
{
    resumeName, resumeStore, resumeSteps, portOption, hostnameOption, publicHostnameOption, tlsOption, weightsPortOption,
};
resume.SetAction((pr, _) => Cli.Guard(() => ClusterRun.Resume(new ClusterRun.ResumeArgs(pr.GetValue(resumeName)!, pr.GetValue(resumeStore),
    pr.GetValue(resumeSteps), pr.GetValue(portOption), pr.GetValue(hostnameOption)!, pr.GetValue(publicHostnameOption), pr.GetValue(tlsOption),
    pr.GetValue(weightsPortOption)), Console.Out, Graceful())));

var listStore = new Option<string?>("--store") { Description = "Experiment store (default sqlite:runs/experiments.db)" };
var list = new Command("list", "List the experiments in a store: name, status, step, last update") { listStore };
list.SetAction((pr, ct) => Cli.Guard(() => StoreCommands.List(pr.GetValue(listStore), Console.Out)));

var showName = new Argument<string>("name") { Description = "Experiment name" };
var showStore = new Option<string?>("--store") { Description = "Experiment store (default sqlite:runs/experiments.db)" };
var showJson = new Option<bool>("--json") { Description = "Print JSON (name, status, step, policy_version, weights_sha256, metrics, ...)" };
var show = new Command("show", "Show one experiment from the store") { showName, showStore, showJson };
show.SetAction((pr, ct) => Cli.Guard(() => StoreCommands.Show(pr.GetValue(showName)!, pr.GetValue(showStore), pr.GetValue(showJson), Console.Out)));

var exportName = new Argument<string>("name") { Description = "Experiment name" };
var exportOut = new Option<string>("--out") { Description = "Output file, e.g. policy.safetensors", Required = true };
var exportStore = new Option<string?>("--store") { Description = "Experiment store (default sqlite:runs/experiments.db)" };
var export = new Command("export", "Write the weights of an experiment's latest checkpoint as safetensors (the policy LM, the CCL networks or the velocity field)") { exportName, exportOut, exportStore };
export.SetAction((pr, ct) => Cli.Guard(() => StoreCommands.Export(pr.GetValue(exportName)!, pr.GetValue(exportOut)!, pr.GetValue(exportStore), Console.Out)));

var keys = new Command("keys", "List every key an experiment file may set, with its meaning, for each experiment kind");
keys.SetAction(_ =>
{
    foreach (var kind in ExperimentKinds.All)
    {
        Console.WriteLine($"# kind = \"{kind.Name}\": {kind.Summary}");
        foreach (var (k, doc) in kind.Keys) Console.WriteLine($"{k,-24} {doc}");
        Console.WriteLine();
    }
    return 0;
});

var wordOut = new Option<string>("--out") { Description = "Folder to write train.jsonl and test.jsonl into", Required = true };
var wordTrain = new Option<int>("--train") { Description = "Train rows", DefaultValueFactory = _ => 4000 };
var wordTest = new Option<int>("--test") { Description = "Test rows (their questions differ from every train question)", DefaultValueFactory = _ => 500 };
var wordSeed = new Option<ulong>("--seed") { Description = "Seed of the arithmetic generator", DefaultValueFactory = _ => 1 };
var wordMinOps = new Option<int>("--min-ops") { Description = "Fewest operations per problem", DefaultValueFactory = _ => 1 };
var wordMaxOps = new Option<int>("--max-ops") { Description = "Most operations per problem", DefaultValueFactory = _ => 3 };
var makeWordProblems = new Command("make-word-problems", "Write an example JSONL data set of word problems from the arithmetic generator " +
    "(fields id, question, answer, solution ending in '#### answer', steps), e.g. examples/data/word-problems for examples/word-problems-grpo.conf")
{
    wordOut, wordTrain, wordTest, wordSeed, wordMinOps, wordMaxOps,
};
makeWordProblems.SetAction((pr, _) => Cli.Guard(() =>
{
    int train = pr.GetValue(wordTrain), test = pr.GetValue(wordTest);
    if (train < 1) throw new ConfigError($"--train {train}: must be at least 1");
    if (test < 1) throw new ConfigError($"--test {test}: must be at least 1");
    var options = new RlActors.Environments.Arithmetic.ArithmeticOptions { MinOps = pr.GetValue(wordMinOps), MaxOps = pr.GetValue(wordMaxOps), OperandDigits = 1, Operators = "+-" };
    try { options.Validate(); }
    catch (ArgumentException e) { throw new ConfigError($"--min-ops/--max-ops: {e.Message}"); }
    string dir = pr.GetValue(wordOut)!;
    var generator = new RlActors.Environments.Arithmetic.ArithmeticGenerator(options, pr.GetValue(wordSeed));
    (long first, long last) = RlActors.Environments.Tasks.WordProblems.WriteSplit(dir, generator, train, test);
    Console.Out.WriteLine($"wrote {train} train rows (stream 0..{train - 1}) and {test} test rows (from stream {first}..{last}, questions not in train) to {dir}");
    return Task.FromResult(0);
}));

var root = new RootCommand("rlactors: actor-model reinforcement learning on Akka.NET and TorchSharp. Exit codes: 0 success, " +
    "1 runtime failure, 2 bad input, 130 stopped by SIGINT (Ctrl+C), 143 stopped by SIGTERM (run/resume: after checkpointing the last completed step)")
    { run, resume, node, list, show, export, train, makeWordProblems, RlActors.Host.MakeHfModel.Command(), keys };
// The evidence commands (sweep, ccl-compare, flow-compare, capo-voting): the runs behind the numbers in docs/.
EvidenceCommands.AddTo(root, args);
// Parse errors in the user's words: "--port abc: expected a whole number", "unknown command 'frobnicate'", a folder given as a file.
Cli.UseUserWordsForNumbers(root);
Cli.RejectFolders(fileArgument, "an experiment file, e.g. examples/arithmetic-grpo.conf");
var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    Console.Error.WriteLine($"error: {Cli.ParseErrorMessage(parse, root, args)}");
    return 2;
}
// node too: it leaves the cluster before exiting, and takes SIGINT back when started in the background by a script.
bool graceful = parse.CommandResult.Command == run || parse.CommandResult.Command == resume || parse.CommandResult.Command == node;
using (interrupts = !graceful ? null : parse.CommandResult.Command == node
           ? Interrupts.Register(Console.Error, "without leaving the cluster (the host sees this node as unreachable, then removes it)")
           : Interrupts.Register(Console.Error))
{
    Cli.InterruptedExitCode = () => interrupts?.ExitCode ?? Interrupts.SigintExitCode;
    return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = graceful ? null : TimeSpan.FromSeconds(2) });
}

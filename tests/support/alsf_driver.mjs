// Runs state machines on aws-local-stepfunctions (a TypeScript ASL interpreter) for the
// flowctl conformance tests and benchmarks, one batch per process.
//
// Usage: node alsf_driver.mjs run   < {"cases": [case]}           > {id: outcome}
//        node alsf_driver.mjs bench < {"definition", "input", "executions", "in_flight"}
//                                                                 > {"executions", "seconds", "per_second", "transitions"}
//
// A case is {"id", "definition" (object or JSON text), "input", "lambda"?: [response]}.
// Its Task states are answered locally, as moto's Lambda without Docker answers: the
// payload comes back unchanged — for `arn:aws:states:::lambda:invoke` wrapped the way the
// service integration wraps it ({"ExecutedVersion", "Payload", "StatusCode"}), for a Lambda
// ARN as the bare result. A case may queue `lambda` responses for its next invocations, in
// order: {"payload": value} answers that value, {"error": name, "cause": text} fails the
// invocation with that error (what Retry/Catch match) and cause; either may carry
// "delay_seconds" (the answer comes that late, for TimeoutSeconds). Retry pauses are
// overridden to 0 ms: the tests compare data and states, not time.
//
// An outcome is {"status": SUCCEEDED|FAILED|TIMED_OUT|INVALID, "output"?, "error"?,
// "cause"?, "states": [names of the states entered, in order, nested ones included]}.

import { StateMachine, allStates, answerAndExit } from "./alsf_common.mjs";

const LAMBDA_INVOKE = /^arn:aws:states:::lambda:invoke(\.waitForTaskToken)?$/;

class TaskFailure extends Error {
  constructor(name, cause) {
    super(cause);
    this.name = name;
  }
}

// The local answers for every Task state (by name, as the library wants them) and zero
// retry pauses for every state with a Retry field.
function overridesFor(definition, queue) {
  const taskResourceLocalHandlers = {};
  const retryIntervalOverrides = {};
  const resources = {};
  for (const [name, state] of allStates(definition)) {
    if (state.Retry) retryIntervalOverrides[name] = 0;
    if (state.Type !== "Task") continue;
    if (name in resources && resources[name] !== state.Resource) {
      throw new Error(`two Task states named ${JSON.stringify(name)} with different resources`);
    }
    resources[name] = state.Resource;
    const integration = LAMBDA_INVOKE.test(state.Resource);
    taskResourceLocalHandlers[name] = async (input) => {
      const next = queue.shift();
      if (next?.delay_seconds) await new Promise((resolve) => setTimeout(resolve, next.delay_seconds * 1000));
      if (next && "error" in next) throw new TaskFailure(next.error, next.cause ?? "");
      const payload = next ? next.payload : integration ? input?.Payload ?? {} : input;
      return integration ? { ExecutedVersion: "$LATEST", Payload: payload, StatusCode: 200 } : payload;
    };
  }
  return { taskResourceLocalHandlers, retryIntervalOverrides };
}

function parse(definition) {
  return typeof definition === "string" ? JSON.parse(definition) : definition;
}

function machine(definition) {
  // Paths and ARNs are the tests' business (asl-validator checks the generated documents);
  // here the interpreter runs what it is given.
  return new StateMachine(definition, { validationOptions: { checkPaths: false, checkArn: false } });
}

// Building a StateMachine validates the definition (about 0.15 s each): once per document.
const machines = new Map();

async function runCase(c) {
  const states = [];
  const key = typeof c.definition === "string" ? c.definition : JSON.stringify(c.definition);
  let definition, sm;
  try {
    definition = parse(c.definition);
    if (!machines.has(key)) machines.set(key, machine(definition));
    sm = machines.get(key);
  } catch (e) {
    return { status: "INVALID", error: e.name, cause: String(e.message), states };
  }
  const overrides = overridesFor(definition, [...(c.lambda ?? [])]);
  const execution = sm.run(c.input ?? null, { overrides });
  const collecting = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === "StateEntered") states.push(event.state.name);
    }
  })();
  let outcome;
  try {
    const output = await execution.result;
    outcome = { status: "SUCCEEDED", output: output === undefined ? null : output };
  } catch (e) {
    if (e?.name === "ExecutionTimeoutError") {
      outcome = { status: "TIMED_OUT", error: "States.Timeout" };
    } else if (e?.name === "ExecutionError" && e.cause) {
      const cause = e.cause;
      outcome = { status: "FAILED", error: cause.name, cause: cause.cause !== undefined && typeof cause.cause === "string" ? cause.cause : cause.message };
    } else {
      outcome = { status: "FAILED", error: e?.name ?? "Error", cause: String(e?.message ?? e) };
    }
  }
  await collecting;
  outcome.states = states;
  return outcome;
}

async function run(job) {
  const results = {};
  // One at a time: the cases are small, and a queue of Lambda responses belongs to one case.
  for (const c of job.cases) {
    try {
      results[c.id] = await runCase(c);
    } catch (e) {
      results[c.id] = { status: "DRIVER_ERROR", error: e?.name ?? "Error", cause: String(e?.stack ?? e), states: [] };
    }
  }
  return results;
}

// Executions per second of one document: `executions` runs, `in_flight` at a time, after a
// warm-up of a tenth as many. Event logs are not read (nothing is collected per state).
async function bench(job) {
  const definition = parse(job.definition);
  const sm = machine(definition);
  const overrides = overridesFor(definition, []);
  const once = async () => {
    const execution = sm.run(job.input ?? {}, { overrides });
    return execution.result;
  };
  const drive = async (count, inFlight) => {
    let started = 0;
    const worker = async () => {
      while (started < count) {
        started++;
        await once();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, inFlight) }, worker));
  };
  const executions = job.executions ?? 10000;
  const inFlight = job.in_flight ?? 1;
  await drive(Math.max(1, Math.floor(executions / 10)), inFlight);
  const t0 = process.hrtime.bigint();
  await drive(executions, inFlight);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { executions, in_flight: inFlight, seconds, per_second: executions / seconds, node: process.version };
}

const commands = { run, bench };
const command = commands[process.argv[2]];
if (!command) {
  console.error(`usage: node alsf_driver.mjs (${Object.keys(commands).join("|")}) < job.json`);
  process.exit(2);
}
let text = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) text += chunk;
const answer = await command(JSON.parse(text));
answerAndExit(answer);

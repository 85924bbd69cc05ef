// What both drivers of aws-local-stepfunctions need (alsf_driver.mjs for the conformance tests
// and bench-engine.sh, alsf_test_bench.mjs for bench-test.sh): the package's StateMachine, with
// the one function it wants from Node >= 22 supplied on Node 20, and a walk over a definition.

if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

// The package is installed in tests/.tools (scripts/install-test-tools.sh), not beside this
// file, so it is imported by path; FLOWCTL_ALSF_DIR points elsewhere.
const packageDir = process.env.FLOWCTL_ALSF_DIR || new URL("../.tools/node_modules/aws-local-stepfunctions/", import.meta.url).pathname;
export const { StateMachine } = await import(new URL("build/main.node.esm.js", `file://${packageDir.endsWith("/") ? packageDir : packageDir + "/"}`).href);

// Every state of a definition, nested branches and iterators included: [name, state].
export function allStates(definition) {
  const out = [];
  const walk = (machine) => {
    for (const [name, state] of Object.entries(machine?.States ?? {})) {
      out.push([name, state]);
      for (const branch of state.Branches ?? []) walk(branch);
      if (state.Iterator) walk(state.Iterator);
      if (state.ItemProcessor) walk(state.ItemProcessor);
    }
  };
  walk(definition);
  return out;
}

// Prints `answer` as JSON and ends the process once it is written: timers the library leaves
// (a Task's default 60 s timeout) must not keep the process up, and exiting before a pipe took
// the whole text would cut a large answer short.
export function answerAndExit(answer) {
  process.stdout.write(JSON.stringify(answer), () => process.exit(0));
}

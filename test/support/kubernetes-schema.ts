/**
 * Kubernetes manifests checked offline, without a cluster, against the API's own schemas as the kubernetes-models
 * package ships them (generated from Kubernetes' OpenAPI spec): its ajv validators (types, required fields, enums of
 * apiVersion and kind) and its TypeScript declarations, compiled against the manifests as object literals so that a
 * field the API does not know is an error, as `kubectl apply` (strict field validation) makes it.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** A manifest: one YAML document. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

interface AjvError {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

/** A validator as kubernetes-models compiles them (ajv standalone code): the result, and ajv's errors when false. */
interface CompiledValidator {
  (data: unknown): boolean;
  errors?: AjvError[] | null;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** apiVersion's group (`''` for the core group) and version. */
function groupVersion(apiVersion: string): { group: string; version: string } {
  const [first, second] = apiVersion.split('/');
  return second === undefined ? { group: '', version: first ?? '' } : { group: first ?? '', version: second };
}

const capital = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

/** The kubernetes-models schema module of a kind: `IoK8sApi` + group (its first word; Core for the core group) + version + kind. */
function schemaModule(manifest: Manifest): string {
  const { group, version } = groupVersion(manifest.apiVersion);
  const groupWord = group === '' ? 'Core' : capital(group.split('.')[0] ?? '');
  return `kubernetes-models/_schemas/IoK8sApi${groupWord}${capital(version)}${manifest.kind}`;
}

/**
 * What the API's JSON schema refuses in `manifest` (wrong types, missing required fields, an apiVersion or kind it
 * does not know), one line per error; empty when valid. A kind without a schema is an error, never a pass.
 */
export async function schemaErrors(manifest: Manifest): Promise<string[]> {
  const name = schemaModule(manifest);
  let validate: CompiledValidator;
  try {
    validate = ((await import(name)) as { validate: CompiledValidator }).validate;
  } catch (error) {
    return [`no schema for ${manifest.apiVersion} ${manifest.kind} (${name}): ${(error as Error).message}`];
  }
  if (validate(manifest)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`);
}

/** The kubernetes-models TypeScript module and interface of a kind, e.g. `kubernetes-models/apps/v1/Deployment`, IDeployment. */
function typeOf(manifest: Manifest): { module: string; name: string } {
  return { module: `kubernetes-models/${manifest.apiVersion}/${manifest.kind}`, name: `I${manifest.kind}` };
}

/**
 * Fields the API does not know (a typo such as `allowPrivilegeEscalaton`, which the JSON schema lets pass and the API
 * server would refuse or drop), and any other type error, for every manifest at once: `label` of each with the
 * compiler's message. Empty when every manifest is clean.
 */
export function unknownFieldErrors(manifests: readonly { label: string; manifest: Manifest }[]): string[] {
  // A file that does not exist, inside the project so that its imports resolve as the tests' own do.
  const file = join(ROOT, 'test', 'deploy', '__manifests_checked__.ts');
  // One import line per kind (its alias by module), then one line per manifest: a diagnostic's line names its manifest.
  const aliases = new Map<string, { alias: string; line: string }>();
  const lines: string[] = [];
  manifests.forEach(({ manifest }, i) => {
    const { module, name } = typeOf(manifest);
    let imported = aliases.get(module);
    if (!imported) {
      const alias = `T${aliases.size}`;
      imported = { alias, line: `import type { ${name} as ${alias} } from '${module}';` };
      aliases.set(module, imported);
    }
    lines.push(`export const m${i}: ${imported.alias} = ${JSON.stringify(manifest)};`);
  });
  const imports = [...aliases.values()].map((a) => a.line);
  const source = [...imports, ...lines].join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, language, ...rest) => (name === file ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest));
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const sourceFile = program.getSourceFile(file);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const line = sourceFile !== undefined && diagnostic.file === sourceFile && diagnostic.start !== undefined ? sourceFile.getLineAndCharacterOfPosition(diagnostic.start).line : -1;
    const index = line - imports.length;
    const label = manifests[index]?.label ?? diagnostic.file?.fileName ?? 'the check itself';
    return `${label}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`;
  });
}

/**
 * template.yaml: valid against the SAM JSON schema (../shared/schemas,
 * ajv 8 + ajv-draft-04, strict: false, CloudFormation short tags mapped to the
 * long form), plus what the schema leaves open: runtimes, architectures, the
 * layer/function pairing, the zip paths layer/build.mjs writes, and the IAM
 * statements (kms:GenerateRandom on *, kms:Decrypt on the key parameter only).
 * Where ../shared is absent the schema check is skipped with the reason; under
 * CI=true that is a failure.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Ajv from 'ajv-draft-04';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/restricted.js';

const CI = process.env.CI === 'true';
const SCHEMA = resolve(REPO_ROOT, '..', 'shared', 'schemas', 'sam.schema.json');
const LIVE_RUNTIMES = ['nodejs20.x', 'nodejs22.x', 'nodejs24.x'];
const ARCHITECTURES = ['x86_64', 'arm64'];

// ---- YAML with CloudFormation short tags -------------------------------------
const INTRINSICS: Record<string, string> = {
  Ref: 'Ref',
  Condition: 'Condition',
  Sub: 'Fn::Sub',
  GetAtt: 'Fn::GetAtt',
  Join: 'Fn::Join',
  Select: 'Fn::Select',
  Split: 'Fn::Split',
  If: 'Fn::If',
  Equals: 'Fn::Equals',
  Not: 'Fn::Not',
  And: 'Fn::And',
  Or: 'Fn::Or',
  FindInMap: 'Fn::FindInMap',
  Base64: 'Fn::Base64',
  Cidr: 'Fn::Cidr',
  ImportValue: 'Fn::ImportValue',
  GetAZs: 'Fn::GetAZs',
  Transform: 'Fn::Transform',
  ToJsonString: 'Fn::ToJsonString',
  Length: 'Fn::Length',
};

const cfnTypes = Object.entries(INTRINSICS).flatMap(([tag, fn]) =>
  (['scalar', 'sequence', 'mapping'] as const).map(
    (kind) =>
      new yaml.Type(`!${tag}`, {
        kind,
        construct: (data: unknown) => {
          // !GetAtt Resource.Attribute is the short form of ["Resource", "Attribute"].
          if (tag === 'GetAtt' && typeof data === 'string') {
            const i = data.indexOf('.');
            return { [fn]: [data.slice(0, i), data.slice(i + 1)] };
          }
          return { [fn]: data ?? '' };
        },
      }),
  ),
);
const CFN_SCHEMA = yaml.DEFAULT_SCHEMA.extend(cfnTypes);

function loadTemplate(): Record<string, any> {
  return yaml.load(readFileSync(join(REPO_ROOT, 'template.yaml'), 'utf8'), { schema: CFN_SCHEMA }) as Record<string, any>;
}

const tpl = loadTemplate();
const resources = Object.entries(tpl.Resources as Record<string, any>);
const layers = resources.filter(([, r]) => r.Type === 'AWS::Serverless::LayerVersion');
const functions = resources.filter(([, r]) => r.Type === 'AWS::Serverless::Function');

describe('template.yaml against the SAM schema', () => {
  const missing = existsSync(SCHEMA) ? undefined : `${SCHEMA} not found (../shared is absent)`;
  const validator = () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    return ajv.compile(JSON.parse(readFileSync(SCHEMA, 'utf8')));
  };

  it.skipIf(!!missing && !CI)(`validates${missing ? ` (skipped: ${missing})` : ''}`, () => {
    if (missing) throw new Error(missing);
    const validate = validator();
    const ok = validate(tpl);
    expect(validate.errors ?? [], JSON.stringify(validate.errors?.slice(0, 5), null, 2)).toEqual([]);
    expect(ok).toBe(true);
  });

  it.skipIf(!!missing && !CI)('rejects a broken copy (the check is not vacuous)', () => {
    if (missing) throw new Error(missing);
    const validate = validator();
    const broken = structuredClone(tpl);
    delete broken.Resources[layers[0][0]].Properties.ContentUri;
    expect(validate(broken)).toBe(false);
    const broken2 = structuredClone(tpl);
    broken2.Resources[functions[0][0]].Properties.CompatibleRuntime = 'nodejs22.x'; // misspelt, not a Function property
    expect(validate(broken2)).toBe(false);
    const broken3 = structuredClone(tpl);
    broken3.Resources[functions[0][0]].Properties.Policies = 5;
    expect(validate(broken3)).toBe(false);
  });

  it('maps short tags to the long form', () => {
    const f = tpl.Resources[functions[0][0]].Properties;
    expect(f.Layers[0]).toEqual({ Ref: layers[0][0] });
    expect(f.FunctionName).toEqual({ 'Fn::Sub': expect.stringContaining('${AWS::StackName}') });
  });
});

describe('what the schema leaves open', () => {
  it('has one layer per architecture, for nodejs22.x and nodejs24.x', () => {
    expect(layers.map(([, r]) => r.Properties.CompatibleArchitectures).sort()).toEqual([['arm64'], ['x86_64']]);
    for (const [name, r] of layers) {
      const p = r.Properties;
      expect(p.CompatibleRuntimes, name).toEqual(['nodejs22.x', 'nodejs24.x']);
      for (const rt of p.CompatibleRuntimes) expect(LIVE_RUNTIMES, `${name}: ${rt}`).toContain(rt);
      for (const a of p.CompatibleArchitectures) expect(ARCHITECTURES).toContain(a);
      // The zip layer/build.mjs writes for that architecture.
      expect(p.ContentUri, name).toBe(`layer/dist/secret-scope-layer-${p.CompatibleArchitectures[0]}.zip`);
    }
  });

  it('has an example function per architecture on the matching layer and a live runtime', () => {
    const archs = functions.map(([, r]) => r.Properties.Architectures).sort();
    expect(archs).toEqual([['arm64'], ['x86_64']]);
    for (const [name, r] of functions) {
      const p = r.Properties;
      const runtime = p.Runtime ?? tpl.Globals?.Function?.Runtime;
      expect(LIVE_RUNTIMES, `${name} runtime ${runtime}`).toContain(runtime);
      expect(p.Layers).toHaveLength(1);
      const layerName = p.Layers[0].Ref;
      const layer = tpl.Resources[layerName];
      expect(layer?.Type, `${name} -> ${layerName}`).toBe('AWS::Serverless::LayerVersion');
      expect(layer.Properties.CompatibleArchitectures).toEqual(p.Architectures);
      expect(layer.Properties.CompatibleRuntimes).toContain(runtime);
      // The code: the example using the middy middleware from the layer.
      const handler = p.Handler ?? tpl.Globals?.Function?.Handler;
      const [mod, fn] = handler.split('.');
      const file = join(REPO_ROOT, p.CodeUri, `${mod}.mjs`);
      expect(existsSync(file), file).toBe(true);
      const src = readFileSync(file, 'utf8');
      expect(src).toMatch(new RegExp(`export const ${fn}\\b`));
      expect(src).toMatch(/from 'secret-scope\/middy'/);
      expect(src).toMatch(/from '@middy\/core'/);
      const pkg = JSON.parse(readFileSync(join(REPO_ROOT, p.CodeUri, 'package.json'), 'utf8'));
      expect(Object.keys(pkg.dependencies)).toEqual(['@middy/core']); // secret-scope: layer; @aws-sdk: runtime
      expect(r.Metadata?.BuildProperties?.External).toEqual(expect.arrayContaining(['secret-scope', '@aws-sdk/*']));
    }
  });

  it('grants kms:GenerateRandom on * and kms:Decrypt only on the key parameter', () => {
    const param = tpl.Parameters?.RootKeyArn;
    expect(param?.Type).toBe('String');
    for (const [name, r] of functions) {
      const statements = (r.Properties.Policies as any[]).flatMap((p) => p.Statement ?? []);
      const actions = statements.flatMap((s) => [s.Action].flat());
      expect(actions.sort(), name).toEqual(['kms:Decrypt', 'kms:GenerateRandom']);
      const gen = statements.find((s) => [s.Action].flat().includes('kms:GenerateRandom'));
      expect(gen.Effect).toBe('Allow');
      expect(gen.Resource).toBe('*');
      const dec = statements.find((s) => [s.Action].flat().includes('kms:Decrypt'));
      expect(dec.Effect).toBe('Allow');
      expect(dec.Resource).toEqual({ Ref: 'RootKeyArn' });
    }
  });

  it('the key parameter accepts key ARNs and nothing else', () => {
    const re = new RegExp(tpl.Parameters.RootKeyArn.AllowedPattern);
    expect(re.test('arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab')).toBe(true);
    expect(re.test('*')).toBe(false);
    expect(re.test('arn:aws:kms:eu-west-1:123456789012:alias/x')).toBe(false);
  });
});

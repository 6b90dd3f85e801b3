import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { HISTORY_SCOPES } from '../../src/slack/delivery/posted.js';

interface Manifest {
  display_information?: { name?: string; description?: string };
  features?: {
    app_home?: Record<string, boolean>;
    bot_user?: { display_name?: string };
    slash_commands?: { command?: string; description?: string; url?: string; usage_hint?: string }[];
  };
  oauth_config?: { scopes?: { bot?: string[]; user?: string[] } };
  settings?: {
    interactivity?: { is_enabled?: boolean; request_url?: string };
    event_subscriptions?: { request_url?: string; bot_events?: string[] };
    socket_mode_enabled?: boolean;
  };
}

const read = (name: string): Manifest => parse(readFileSync(new URL(`../../${name}`, import.meta.url), 'utf8')) as Manifest;
const manifest = read('manifest.yml');
const http = read('manifest.http.yml');

describe('manifest.yml (Socket Mode) and manifest.http.yml (HTTP mode)', () => {
  it('has the fields Slack requires, within their lengths', () => {
    for (const each of [manifest, http]) checkFields(each);
  });

  it('makes the same app in HTTP mode, its request URLs the bot’s /slack/events for the command and the buttons', () => {
    assert.equal(http.settings?.socket_mode_enabled, false);
    assert.deepEqual({ ...http.oauth_config }, { ...manifest.oauth_config });
    assert.deepEqual(http.display_information, manifest.display_information);
    assert.deepEqual(http.features?.slash_commands?.map(({ url: _url, ...rest }) => rest), manifest.features?.slash_commands);
    assert.equal(http.features?.slash_commands?.[0]?.url, 'https://YOUR-HOST/slack/events');
    assert.equal(http.settings?.interactivity?.request_url, 'https://YOUR-HOST/slack/events');
    assert.equal(http.settings?.event_subscriptions?.request_url, 'https://YOUR-HOST/slack/events');
    assert.deepEqual(http.settings?.event_subscriptions?.bot_events, manifest.settings?.event_subscriptions?.bot_events);
  });

  it('has the Home tab, and asks for the one event the bot listens to (app_home_opened)', () => {
    assert.deepEqual(manifest.settings?.event_subscriptions?.bot_events, ['app_home_opened']);
    assert.equal(manifest.settings?.event_subscriptions?.request_url, undefined, 'Socket Mode has no request URL');
    assert.deepEqual(manifest.features?.app_home, { home_tab_enabled: true, messages_tab_enabled: true, messages_tab_read_only_enabled: false });
  });

  function checkFields(manifest: Manifest): void {
    const name = manifest.display_information?.name ?? '';
    assert.ok(name.length >= 1 && name.length <= 35, `display_information.name "${name}"`);
    assert.ok((manifest.display_information?.description ?? '').length <= 140);
    const bot = manifest.features?.bot_user?.display_name ?? '';
    assert.ok(bot.length >= 1 && bot.length <= 80, 'features.bot_user.display_name');
    for (const command of manifest.features?.slash_commands ?? []) {
      assert.match(command.command ?? '', /^\/[a-z0-9_-]{1,31}$/);
      assert.ok((command.description ?? '').length >= 1 && (command.description ?? '').length <= 2000);
      assert.ok((command.usage_hint ?? '').length <= 1000);
      // A request URL is needed only without Socket Mode.
      if (!manifest.settings?.socket_mode_enabled) assert.match(command.url ?? '', /^https:\/\//);
    }
  }

  it('declares /sweep, interactivity for the buttons, and Socket Mode', () => {
    assert.deepEqual(manifest.features?.slash_commands?.map((c) => c.command), ['/sweep']);
    assert.equal(manifest.settings?.interactivity?.is_enabled, true);
    assert.equal(manifest.settings?.socket_mode_enabled, true);
  });

  it('asks for only the scopes the bot uses', () => {
    assert.deepEqual([...(manifest.oauth_config?.scopes?.bot ?? [])].sort(), [
      'channels:history',
      'chat:write',
      'chat:write.public',
      'commands',
      'files:write',
      'groups:history',
      'im:history',
      'mpim:history',
    ]);
    // The history scopes are exactly those the bot asks for when it cannot read back what it posted.
    assert.deepEqual(HISTORY_SCOPES.filter((scope) => manifest.oauth_config?.scopes?.bot?.includes(scope)), HISTORY_SCOPES);
    assert.equal(manifest.oauth_config?.scopes?.user, undefined);
  });
});

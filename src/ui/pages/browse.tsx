import type { Hono } from 'hono';
import { listModels } from '../../models/service.js';
import { uiPath } from '../components.js';
import { needs, page, type UiEnv } from '../kit.js';

/** Overview, model, feature, retrain, baseline and version pages. */
export function registerBrowsePages(ui: Hono<UiEnv>): void {
  ui.get('/', needs('reviewer'), async (c) => {
    const models = await listModels(c.get('deps'));
    return page(
      c,
      { title: 'Overview', section: 'overview' },
      <ul>
        {models.map((m) => (
          <li>
            <a href={uiPath.model(m.model)}>{m.model}</a>
          </li>
        ))}
      </ul>,
    );
  });
}
